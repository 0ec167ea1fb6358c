"""The DPU the doubles of vart and xdputil pretend is on the board:
VEDLIOT_FAKE_DPU="ARCH,FINGERPRINT,MHZ,CORES,BATCH", e.g. "DPUCZDX8G_ISA1_B4096,0x101000016010407,300,1,1"
(a real KV260 pair from tests/data/xdputil); unset or empty: no DPU."""

import collections
import os

Dpu = collections.namedtuple("Dpu", "arch fingerprint mhz cores batch")


def dpu():
    text = os.environ.get("VEDLIOT_FAKE_DPU", "")
    if not text:
        return None
    arch, fingerprint, mhz, cores, batch = text.split(",")
    return Dpu(arch, int(fingerprint, 16), int(mhz), int(cores), int(batch))
