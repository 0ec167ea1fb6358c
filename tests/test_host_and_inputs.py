from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vedliot_runner import hostinfo
from vedliot_runner.errors import UnsupportedError, UsageError
from vedliot_runner.inputs import concrete_shape, synthetic_inputs
from vedliot_runner.record import TensorInfo

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 3451 16-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu avx avx2 fma avx512f avx512_bf16 sse2

processor\t: 1
model name\t: AMD EPYC 3451 16-Core Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu avx avx2

processor\t: 2
model name\t: AMD EPYC 3451 16-Core Processor
physical id\t: 0
core id\t\t: 1
"""

JETSON = """processor\t: 0
BogoMIPS\t: 62.50
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
"""


def test_cpuinfo_parsing():
    assert hostinfo.cpu_model(X86) == "AMD EPYC 3451 16-Core Processor"
    assert hostinfo.physical_cores(X86) == 2
    assert hostinfo.cpu_flags(X86) == ["avx", "avx2", "fma", "avx512f", "avx512_bf16"]
    assert hostinfo.cpu_flags(JETSON) == ["asimd", "asimddp", "asimdhp"]
    assert hostinfo.physical_cores(JETSON) is None


def test_clock_and_core_parts_parsing():
    """What the CPU peak needs (aggregator cpu_peak.py): arm64's cpuinfo lists one block per core
    with its implementer and part (the kernel's arch/arm64/kernel/cpuinfo.c); Intel names the
    base clock in the model name; "cpu MHz" is the clock x86 reports."""
    big_little = JETSON + "CPU part\t: 0xd05\n\nprocessor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n"
    big_little += "\nprocessor\t: 2\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n"
    assert hostinfo.cpu_parts(big_little) == ["0x41:0xd05", "0x41:0xd0b"]
    assert hostinfo.cpu_parts(X86) == []
    xeon = X86.replace("AMD EPYC 3451 16-Core Processor", "Intel(R) Xeon(R) CPU D-1577 @ 1.30GHz")
    clocks = hostinfo.cpu_clocks(xeon + "cpu MHz\t\t: 2194.843\n", "Intel(R) Xeon(R) CPU D-1577 @ 1.30GHz")
    assert clocks["reported"] == pytest.approx(2194.843)
    if not Path("/sys/devices/system/cpu/cpu0/cpufreq/base_frequency").exists():
        assert clocks["base"] == pytest.approx(1300.0)  # intel_pstate, where present, comes first
    assert hostinfo.usable_cores() >= 1


def test_memory_parsing():
    assert hostinfo.memory_bytes("MemTotal:       32617752 kB\nMemFree: 1 kB\n") == 32617752 * 1024


CID = "3f4e8c1a" * 8


@pytest.mark.parametrize(
    ("cgroup", "mountinfo"),
    [
        (f"12:pids:/docker/{CID}\n", None),  # cgroup v1
        ("0::/\n", f"612 600 0:52 /var/lib/docker/containers/{CID}/hostname /etc/hostname rw\n"),  # cgroup v2
        (f"0::/system.slice/docker-{CID}.scope\n", None),  # systemd driver
    ],
)
def test_container_id(cgroup, mountinfo):
    assert hostinfo.container_id(cgroup, mountinfo) == CID


CONTAINERS = Path(__file__).parent / "data" / "containers"


@pytest.mark.parametrize("capture", ["docker20-cgroupv1", "docker20-cgroupns-private"])
def test_container_id_inside_real_containers(capture):
    """/proc texts captured inside Docker containers (tests/data/containers/SOURCES.md)."""
    cgroup = (CONTAINERS / f"{capture}.cgroup").read_text()
    mountinfo = (CONTAINERS / f"{capture}.mountinfo").read_text()
    short = (CONTAINERS / f"{capture}.hostname").read_text().strip()
    found = hostinfo.container_id(cgroup, mountinfo, marker=True)
    assert found is not None and len(found) == 64 and found.startswith(short)
    # With the id hidden everywhere, /.dockerenv and an overlay root still tell; the hostname stands in.
    assert hostinfo.container_id("0::/\n", mountinfo.replace("containers/", "elsewhere/"), marker=True)


def test_no_container_id_outside_a_container():
    """This VM has /.dockerenv (its image came from a container image) on an ext4 root: no container."""
    cgroup = (CONTAINERS / "vm-not-a-container.cgroup").read_text()
    mountinfo = (CONTAINERS / "vm-not-a-container.mountinfo").read_text()
    assert hostinfo.container_id(cgroup, mountinfo, marker=True) is None
    assert hostinfo.container_id(cgroup, mountinfo, marker=False) is None


def test_collect_on_this_machine():
    host = hostinfo.collect()
    assert host.cpu_cores_logical >= 1 and host.memory_bytes > 0 and host.kernel and host.python.count(".") == 2


def test_symbolic_batch_takes_the_batch_size():
    t = TensorInfo("x", "float32", ["batch", 3, 8, 8])
    assert concrete_shape(t, 4) == [4, 3, 8, 8]
    assert concrete_shape(TensorInfo("x", "float32", [-1, 2]), 3) == [3, 2]


def test_static_batch_must_match():
    t = TensorInfo("x", "float32", [1, 3])
    assert concrete_shape(t, 1) == [1, 3]
    with pytest.raises(UnsupportedError, match="static batch dimension of 1"):
        concrete_shape(t, 8)


def test_override_must_agree_with_batch_and_rank():
    t = TensorInfo("x", "float32", ["N", "T"])
    assert concrete_shape(t, 2, [2, 9]) == [2, 9]
    with pytest.raises(UsageError, match="must equal --batch-size"):
        concrete_shape(t, 2, [3, 9])
    with pytest.raises(UsageError, match="3 dimensions given"):
        concrete_shape(t, 2, [2, 9, 1])
    with pytest.raises(UsageError, match="names y"):
        synthetic_inputs([t], 2, 0, {"y": [2, 1]})


def test_synthetic_values_follow_dtype_and_seed():
    tensors = [
        TensorInfo("img", "uint8", ["N", 4]),
        TensorInfo("f", "float16", ["N", 4]),
        TensorInfo("ids", "int64", ["N", 4]),
        TensorInfo("q", "int8", ["N", 512]),
    ]
    a = synthetic_inputs(tensors, 2, seed=3)
    b = synthetic_inputs(tensors, 2, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["img"].dtype == np.uint8 and a["f"].dtype == np.float16 and a["ids"].dtype == np.int64
    assert a["ids"].min() >= 0 and a["ids"].max() < 10
    assert a["q"].min() < -64 and a["q"].max() > 64  # spans the int8 range like a quantized image
    assert not np.array_equal(a["f"], synthetic_inputs(tensors, 2, seed=4)["f"])
