"""Facts about the machine a run executes on, read from /proc and /sys without extra packages."""

from __future__ import annotations

import glob
import os
import platform
import re
import socket
from typing import Dict, List, Optional

from vedliot_runner.record import HostInfo

# Flags that change what a backend executes (bf16/AMX paths in OpenVINO, int8 VNNI, NEON dot product).
_INTERESTING_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
    "asimd",
    "asimddp",
    "asimdhp",
    "sve",
    "sve2",
    "bf16",
    "i8mm",
)

# Device nodes of the accelerators the project has targets for.
_ACCELERATOR_GLOBS = (
    "/dev/nvidia[0-9]*",
    "/dev/nvhost-ctrl-gpu",
    "/dev/hailo[0-9]*",
    "/dev/apex_[0-9]*",
    "/dev/dri/renderD*",
    "/dev/accel/accel[0-9]*",
    "/dev/galcore",
    "/dev/myriad*",
)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_model(cpuinfo: Optional[str]) -> str:
    if cpuinfo:
        for key in ("model name", "Hardware", "Processor", "cpu model"):
            match = re.search(r"^" + key + r"\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
            if match:
                return match.group(1).strip()
    # Jetson and other device-tree boards name the SoC there, not in cpuinfo.
    model = _read("/proc/device-tree/model")
    if model:
        return model.strip("\x00\n ")
    return platform.processor() or platform.machine()


def physical_cores(cpuinfo: Optional[str]) -> Optional[int]:
    if not cpuinfo:
        return None
    pairs = set()
    physical = core = None
    for line in [*cpuinfo.splitlines(), ""]:
        if line.startswith("physical id"):
            physical = line.split(":", 1)[1].strip()
        elif line.startswith("core id"):
            core = line.split(":", 1)[1].strip()
        elif not line.strip():
            if core is not None:
                pairs.add((physical, core))
            physical = core = None
    return len(pairs) or None


def cpu_flags(cpuinfo: Optional[str]) -> List[str]:
    if not cpuinfo:
        return []
    match = re.search(r"^(flags|Features)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    if not match:
        return []
    present = set(match.group(2).split())
    return [flag for flag in _INTERESTING_FLAGS if flag in present]


def _mhz_of_khz(path: str) -> Optional[float]:
    text = _read(path)
    try:
        return int(text) / 1000.0 if text else None
    except ValueError:
        return None


def cpu_clocks(cpuinfo: Optional[str], model: str) -> Dict[str, Optional[float]]:
    """Base, maximum and reported clock in MHz. Base: intel_pstate's base_frequency, else the
    "@ 2.10GHz" of an Intel model name; maximum: the fastest core's cpuinfo_max_freq (cpufreq);
    reported: /proc/cpuinfo's "cpu MHz" (a VM often shows only this, its nominal clock)."""
    base = _mhz_of_khz("/sys/devices/system/cpu/cpu0/cpufreq/base_frequency")
    if base is None:
        match = re.search(r"@\s*([\d.]+)\s*GHz", model)
        base = float(match.group(1)) * 1000 if match else None
    maxima = [_mhz_of_khz(p) for p in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq")]
    known = [m for m in maxima if m]
    reported = None
    match = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo or "", re.MULTILINE)
    if match:
        reported = float(match.group(1))
    return {"base": base, "max": max(known) if known else None, "reported": reported}


def cpu_parts(cpuinfo: Optional[str]) -> List[str]:
    """Arm cores by implementer and part ("0x41:0xd08" is a Cortex-A72), each kind once."""
    parts = []
    implementer = None
    for line in (cpuinfo or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "CPU implementer":
            implementer = value.strip()
        elif key.strip() == "CPU part" and implementer:
            part = "{}:{}".format(implementer, value.strip())
            if part not in parts:
                parts.append(part)
    return parts


def usable_cores() -> Optional[int]:
    """Logical CPUs this process may run on (a container's --cpuset-cpus, taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def memory_bytes(meminfo: Optional[str]) -> Optional[int]:
    if meminfo:
        match = re.search(r"^MemTotal:\s*(\d+)\s*kB", meminfo, re.MULTILINE)
        if match:
            return int(match.group(1)) * 1024
    return None


def os_name() -> str:
    release = _read("/etc/os-release")
    if release:
        match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', release, re.MULTILINE)
        if match:
            return match.group(1)
    return platform.system()


_CONTAINER_ID = re.compile(r"(?:docker[-/]|/containers/|libpod-|cri-containerd-|crio-|/kubepods[^\n]*/)([0-9a-f]{64})")
_OVERLAY_ROOTS = ("overlay", "aufs", "fuse-overlayfs", "fuse.fuse-overlayfs")


def _root_filesystem(mountinfo: Optional[str]) -> Optional[str]:
    """The file system type mounted at / (mountinfo: fields, " - ", type, source, options)."""
    for line in (mountinfo or "").splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == "/" and " - " in line:
            return line.split(" - ", 1)[1].split()[0]
    return None


def container_id(cgroup: Optional[str], mountinfo: Optional[str], marker: bool = False) -> Optional[str]:
    """The container's id when the runner runs inside Docker/Podman/containerd/Kubernetes, else None.

    Evidence, strongest first: a container id in the cgroup path (cgroup v1, and v2 hosts that
    show it); the container's own files bind-mounted from the engine's directory
    (/var/lib/docker/containers/<id>/hostname...; cgroup v2 hides the id elsewhere); a marker file
    (/.dockerenv, /run/.containerenv: `marker`) together with an overlay root file system, which
    names no id (the hostname, Docker's short id by default, stands in). A marker alone is no
    evidence: VM images built from container images keep /.dockerenv on a real disk."""
    for text in (cgroup, mountinfo):
        if text:
            match = _CONTAINER_ID.search(text)
            if match:
                return match.group(1)
    if marker and _root_filesystem(mountinfo) in _OVERLAY_ROOTS:
        return socket.gethostname()
    return None


def accelerators() -> List[str]:
    found: List[str] = []
    for pattern in _ACCELERATOR_GLOBS:
        found.extend(sorted(glob.glob(pattern)))
    return found


def drivers() -> Dict[str, str]:
    versions: Dict[str, str] = {}
    nvidia = _read("/proc/driver/nvidia/version")
    if nvidia:
        match = re.search(r"Kernel Module\s+([\d.]+)", nvidia)
        if match:
            versions["nvidia"] = match.group(1)
    tegra = _read("/etc/nv_tegra_release")
    if tegra:
        versions["l4t"] = tegra.splitlines()[0].strip("# ").strip()
    for module in ("hailo_pci", "apex", "galcore"):
        version = _read("/sys/module/{}/version".format(module))
        if version:
            versions[module] = version.strip()
    return versions


def collect() -> HostInfo:
    cpuinfo = _read("/proc/cpuinfo")
    uname = platform.uname()
    model = cpu_model(cpuinfo)
    clocks = cpu_clocks(cpuinfo, model)
    return HostInfo(
        hostname=socket.gethostname(),
        os=os_name(),
        kernel=uname.release,
        arch=uname.machine,
        cpu_model=model,
        cpu_cores_logical=os.cpu_count(),
        cpu_cores_physical=physical_cores(cpuinfo),
        cpu_flags=cpu_flags(cpuinfo),
        memory_bytes=memory_bytes(_read("/proc/meminfo")),
        python=platform.python_version(),
        container_id=container_id(
            _read("/proc/self/cgroup"),
            _read("/proc/self/mountinfo"),
            os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"),
        ),
        accelerators=accelerators(),
        drivers=drivers(),
        cpu_cores_usable=usable_cores(),
        cpu_clock_base_mhz=clocks["base"],
        cpu_clock_max_mhz=clocks["max"],
        cpu_clock_reported_mhz=clocks["reported"],
        cpu_parts=cpu_parts(cpuinfo),
    )


def peak_rss_bytes() -> Optional[int]:
    status = _read("/proc/self/status")
    if status:
        match = re.search(r"^VmHWM:\s*(\d+)\s*kB", status, re.MULTILINE)
        if match:
            return int(match.group(1)) * 1024
    try:
        import resource

        # ru_maxrss is KiB on Linux, bytes on macOS.
        scale = 1 if platform.system() == "Darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    except (ImportError, OSError):
        return None
