"""Which NVIDIA platform this is, named as the aggregator's platform catalog names it, so that a
record's performance ratio is filled without the user typing a catalog name.

- Jetson: the module's part number in /proc/device-tree/compatible (e.g. "nvidia,p3701-0000"), the
  key jetson-stats uses too; /proc/device-tree/model is the board's own name for the record.
- Discrete GPUs: the GPU's name from NVML (nvidia-ml-py, where installed), else from the NVIDIA
  driver's /proc/driver/nvidia/gpus/*/information.
The real strings these tables match are in tests/data/nvidia-identity/ with their sources. A board
or GPU not in them is named as found: the aggregator then warns that it has no peak and names it.
VEDLIOT_HOST_ROOT reads another root (a container given the host's /proc under /host; tests).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from typing import List, Optional, Tuple

#: compatible entry pattern -> catalog id, first match wins (the rules and their sources are in
#: tests/data/nvidia-identity/: module part numbers as jetson-gpio's tables list them)
JETSON_MODULES: Tuple[Tuple[str, str], ...] = (
    (r"p3701-00(00|01|04|05|08)\b", "jetson_agx_orin"),  # p3701-0002 is IGX Orin
    (r"p3767-000[01]\b", "jetson_orin_nx"),  # 0003-0005 are Orin Nano
    (r"p3668-", "jetson_xavier_nx"),
    (r"^nvidia,(p2972-000[06]|jetson-xavier|galen)$|p2888-", "jetson_agx_xavier"),
    (r"^nvidia,(p2771-0000|p2771-0888|p3489-0000|quill|storm|lightning)$|p3310-", "jetson_tx2"),
    (r"^nvidia,(jetson-nano|p3450-0000|p3450-0002)$|p3448-", "jetson_nano"),
)
#: carriers whose modules are not the devkit the catalog's figures are for (Clara AGX)
NOT_DEVKITS = r"e3900-"
#: GPU name pattern -> catalog id (a GTX 1660 Ti or SUPER is another GPU; a V100S is a V100 part)
GPUS: Tuple[Tuple[str, str], ...] = (
    (r"\bGTX 1660\b(?! Ti| SUPER)", "gtx1660"),
    (r"\bV100S?\b|^Tesla PG500-216$", "tesla_v100"),
    (r"\bA100\b", "tesla_a100"),
)


@dataclasses.dataclass(frozen=True)
class Recognised:
    #: the catalog's id, or None for a board or GPU the catalog does not know
    catalog_id: Optional[str]
    #: the device's own name (device-tree model or GPU name)
    name: str
    #: where it was read, for the log and the docs
    evidence: str


def _root() -> str:
    return os.environ.get("VEDLIOT_HOST_ROOT", "/")


def _read(path: str) -> Optional[str]:
    try:
        with open(os.path.join(_root(), path.lstrip("/")), "rb") as handle:
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def jetson() -> Optional[Recognised]:
    compatible = _read("/proc/device-tree/compatible")
    if compatible is None or "nvidia,tegra" not in compatible:
        return None
    entries = [e for e in compatible.split("\x00") if e]
    model = (_read("/proc/device-tree/model") or "").rstrip("\x00").strip() or entries[0]
    if not any(re.search(NOT_DEVKITS, entry) for entry in entries):
        for pattern, catalog_id in JETSON_MODULES:
            for entry in entries:
                if re.search(pattern, entry):
                    return Recognised(catalog_id, model, "/proc/device-tree/compatible: " + entry)
    return Recognised(None, model, "/proc/device-tree/compatible: " + ", ".join(entries))


def gpu_names() -> List[Tuple[str, str]]:
    """(name, where it was read) of every NVIDIA GPU here."""
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
            names = [pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
        finally:
            pynvml.nvmlShutdown()
        return [(n.decode() if isinstance(n, bytes) else str(n), "NVML") for n in names]
    except Exception:  # noqa: BLE001 - no nvidia-ml-py, no driver: fall back to the driver's /proc
        pass
    found = []
    pattern = os.path.join(_root(), "proc/driver/nvidia/gpus/*/information")
    for path in sorted(glob.glob(pattern)):
        text = _read(os.path.relpath(path, _root())) or ""
        match = re.search(r"^Model:\s*(.+?)\s*$", text, re.M)
        if match:
            found.append((match.group(1), "/proc/driver/nvidia/gpus/*/information"))
    return found


def discrete_gpu() -> Optional[Recognised]:
    names = gpu_names()
    if not names:
        return None
    name, where = names[0]
    for pattern, catalog_id in GPUS:
        if re.search(pattern, name):
            return Recognised(catalog_id, name, "{}: {}".format(where, name))
    return Recognised(None, name, "{}: {}".format(where, name))


def recognise() -> Optional[Recognised]:
    return jetson() or discrete_gpu()


def power_mode(query: Optional[str] = None) -> Optional[str]:
    """The Jetson's power mode from `nvpmodel -q` ("NV Power Mode: MAXN" then the mode's id), e.g.
    "MAXN (0)"; None where nvpmodel is not here or says nothing."""
    if query is None:
        import shutil
        import subprocess

        tool = shutil.which("nvpmodel")
        if tool is None:
            return None
        try:
            done = subprocess.run([tool, "-q"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        query = done.stdout
    match = re.search(r"NV Power Mode: ?(\S+)[ \t]*(?:\r?\n[ \t]*(\d+)\b)?", query)
    if match is None:
        return None
    return match.group(1) + (" ({})".format(match.group(2)) if match.group(2) else "")


_GPU_FREQ = re.compile(r"^GPU MinFreq=(\d+) MaxFreq=(\d+) CurrentFreq=(\d+)", re.M)


def clocks_state(show: Optional[str] = None) -> Optional[str]:
    """Whether jetson_clocks pinned the GPU clock, from `jetson_clocks --show` ("GPU MinFreq=...
    MaxFreq=... CurrentFreq=...": jetson_clocks sets the minimum to the maximum); None where it
    cannot run (it needs root) or says nothing."""
    if show is None:
        import shutil
        import subprocess

        tool = shutil.which("jetson_clocks")
        if tool is None:
            return None
        try:
            show = subprocess.run([tool, "--show"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
    match = _GPU_FREQ.search(show)
    if match is None:
        return None
    low, high = int(match.group(1)) / 1e6, int(match.group(2)) / 1e6
    if low == high:
        return "jetson_clocks on (GPU {:.0f} MHz)".format(high)
    return "jetson_clocks off (GPU {:.0f}-{:.0f} MHz)".format(low, high)
