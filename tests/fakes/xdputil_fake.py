"""Double of Vitis AI's `xdputil query` for the DPU of VEDLIOT_FAKE_DPU (vart/_device.py): the JSON
the real tool prints (json.dumps(sort_keys=True, indent=4, separators=(",", ":")), keys of a real
Vitis AI 3.0 KV260 output, tests/data/xdputil/query_kv260_dpuczdx8g_vai30_logictronix.txt); with no
DPU, the real tool's glog CHECK failure and abort (tests/data/xdputil/error_query_no_xrt_factory_issue1215.txt).
Other subcommands are not in the double (exit 2)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vart._device import dpu
from xir._glog import line

VERSIONS = {
    "libvart-runner.so": "Xilinx vart-runner Version: 3.0.0-2efa5fe1e56c2b2c8a7e71e9fc1636242dd50a9f  "
    "2022-12-27-00:47:05 ",
    "libxir.so": "Xilinx xir Version: xir-9204ac72103092a7b253a0c23ec7471481656940 2022-12-27-00:46:16",
    "target_factory": "target-factory.3.0.0 860ed0499ab009084e2df3004eeb9ae710c26351",
}


def query():
    device = dpu()
    if device is None:
        sys.stderr.write("WARNING: Logging before InitGoogleLogging() is written to STDERR\n")
        sys.stderr.write(line("F", "xrt_device_handle.cpp:44", "Check failed: !get_factory_methods().empty() "))
        sys.stderr.write("\n*** Check failure stack trace: ***\n")
        sys.stderr.write("/usr/bin/xdputil: line 20: {} Aborted /usr/bin/python3 -m xdputil $*\n".format(os.getpid()))
        return 134
    kernels = [
        {"DPU Arch": device.arch, "DPU Frequency (MHz)": device.mhz, "IP Type": "DPU", "cu_idx": k,
         "cu_name": "DPUCZDX8G:DPUCZDX8G_{}".format(k + 1), "device_id": 0,
         "fingerprint": "0x{:x}".format(device.fingerprint), "name": "DPU Core {}".format(k)}
        for k in range(device.cores)
    ]  # fmt: skip
    spec = {"DPU Core Count": device.cores, "IP version": "v4.1.0"}
    print(json.dumps({"DPU IP Spec": spec, "VAI Version": VERSIONS, "kernels": kernels}, sort_keys=True, indent=4,
                     separators=(",", ":")))  # fmt: skip
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["query"]:
        sys.stderr.write("xdputil double: only `xdputil query` is in the double\n")
        sys.exit(2)
    sys.exit(query())
