"""What the board's Xilinx DPU is: `xdputil query` (VART has no Python call for it), and what an
xmodel's DPU subgraph was compiled for (the compiler's subgraph attributes).

`xdputil query` prints one JSON object: "DPU IP Spec", "VAI Version" (the builds of
libvart-runner.so, libxir.so and target_factory) and "kernels", one per DPU core ("DPU Arch",
"DPU Frequency (MHz)", "fingerprint" as a hex string, "name"). Its real outputs are in
tests/data/xdputil/ with their sources. It has no batch: that is a runner's dims[0].
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

from vedliot_runner.record import Scalar


@dataclasses.dataclass(frozen=True)
class DpuKernel:
    arch: Optional[str]
    fingerprint: Optional[str]
    frequency_mhz: Optional[float]
    name: Optional[str]


@dataclasses.dataclass(frozen=True)
class DpuInfo:
    vai_version: Optional[str] = None
    vart: Optional[str] = None
    xir: Optional[str] = None
    target_factory: Optional[str] = None
    kernels: Tuple[DpuKernel, ...] = ()
    #: why `xdputil query` failed (its glog FATAL line: no XRT device, no DPU core), if it did
    error: Optional[str] = None

    def fingerprints(self) -> List[str]:
        return [k.fingerprint for k in self.kernels if k.fingerprint]

    def describe(self) -> str:
        return ", ".join("{} (fingerprint {})".format(k.arch or k.name or "?", k.fingerprint) for k in self.kernels)

    def config(self) -> Optional[str]:
        """The catalog's configuration key: "B4096 x2 @200MHz" for a Zynq UltraScale+ DPU (D3.3
        Tables 100-108), "C32B3L2S2" or "C32B1L2S2x3" for a Versal one (Table 110)."""
        if not self.kernels:
            return None
        arch, mhz, count = self.kernels[0].arch or "", self.kernels[0].frequency_mhz, len(self.kernels)
        versal = re.search(r"_(C\d+B\d+)", arch)
        if versal:
            return "{}L2S2{}".format(versal.group(1), "x{}".format(count) if count > 1 else "")
        size = re.search(r"_(B\d+)", arch)
        if not size or mhz is None:
            return None
        return "{} x{} @{:g}MHz".format(size.group(1), count, mhz)

    def record(self) -> Dict[str, Scalar]:
        first = self.kernels[0] if self.kernels else DpuKernel(None, None, None, None)
        return {
            "dpu_arch": first.arch,
            "dpu_fingerprint": first.fingerprint,
            "dpu_frequency_mhz": first.frequency_mhz,
            "dpu_cores": len(self.kernels) or None,
            "accelerator_config": self.config(),
            "vitis_ai": self.vai_version,
        }


def _version(text: Optional[str]) -> Optional[str]:
    """ "Xilinx vart-runner Version: 2.5.0-27b0b58e...  2022-06-08-08:35:50" -> "2.5.0-27b0b58e...";
    "target-factory.2.5.0 9e04a0e4..." -> "2.5.0"."""
    if not text:
        return None
    found = re.search(r"Version: (\S+)", text) or re.search(r"^target-factory\.(\S+)", text.strip())
    return found.group(1) if found else text.strip() or None


def parse_query(text: str) -> DpuInfo:
    """`xdputil query`'s JSON (a ValueError if it is not)."""
    data = json.loads(text[text.index("{") :] if "{" in text else text)
    versions = data.get("VAI Version") or {}
    kernels = []
    for kernel in data.get("kernels") or []:
        frequency = kernel.get("DPU Frequency (MHz)")
        fingerprint = kernel.get("fingerprint")
        kernels.append(
            DpuKernel(
                arch=kernel.get("DPU Arch"),
                fingerprint=str(fingerprint) if fingerprint is not None else None,
                frequency_mhz=float(frequency) if frequency is not None else None,
                name=kernel.get("name"),
            )
        )
    vart = _version(_field(versions, "libvart-runner"))
    return DpuInfo(
        vai_version=vart.split("-")[0] if vart else None,  # VART's release is Vitis AI's
        vart=vart,
        xir=_version(_field(versions, "libxir")),
        target_factory=_version(_field(versions, "target_factory")),
        kernels=tuple(kernels),
    )


def _field(versions: Dict[str, str], prefix: str) -> Optional[str]:
    return next((str(v) for k, v in versions.items() if k.startswith(prefix)), None)


def query_dpu(timeout: float = 60.0) -> Optional[DpuInfo]:
    """The board's DPU per `xdputil query`, or None where the board has no xdputil."""
    program = shutil.which("xdputil")
    command = [program, "query"] if program else [sys.executable, "-m", "xdputil", "query"]
    if not program and not _module_exists("xdputil"):
        return None
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    except (OSError, subprocess.SubprocessError) as exc:
        return DpuInfo(error="xdputil query: {}".format(exc))
    try:
        return parse_query(out.stdout)
    except ValueError:
        return DpuInfo(error="xdputil query: " + (fatal_line(out.stderr) or "exit status {}".format(out.returncode)))


def fatal_line(text: str) -> Optional[str]:
    """The message of the last glog FATAL line ("F0404 13:28:17.234927 692 file.cpp:44] message")."""
    found = re.findall(r"^F\d{4} [\d:.]+\s+\d+ ([^\]]+\] .*)$", text or "", re.M)
    return found[-1].strip() if found else None


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def subgraph_identity(subgraph, children: List) -> Dict[str, Scalar]:
    """What the xmodel says of itself: the DPU it was compiled for, and how the compiler split it."""
    devices = [str(c.get_attr("device")).upper() if c.has_attr("device") else "?" for c in children]
    fingerprint = subgraph.get_attr("dpu_fingerprint") if subgraph.has_attr("dpu_fingerprint") else None
    return {
        "subgraph": subgraph.get_name(),
        "xmodel_fingerprint": hex(int(fingerprint)) if fingerprint is not None else None,
        "xmodel_dpu": str(subgraph.get_attr("dpu_name")) if subgraph.has_attr("dpu_name") else None,
        "dpu_subgraphs": devices.count("DPU"),
        "cpu_subgraphs": devices.count("CPU"),
    }
