"""What the contract batteries run on: a test model of every format a backend may take, and a
way to find the worker process of a run in progress.

A backend added to the registry is tested by the batteries with no other change, provided its
format has models here; a backend whose runtime this machine lacks needs a double (tests/doubles.py
shows the form) before the battery can load it, and the battery says so.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import models

EDGETPU_DATA = Path(__file__).parent / "data" / "edgetpu"


def edgetpu_compiled(path: Path) -> Path:
    """A real edgetpu_compiler output (a QUANTIZE on the CPU, then one Edge TPU subgraph) and the
    model it was compiled from, which the tflite_runtime double runs in the TPU's place."""
    stem = "N32-nMACs41287680_quant"
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in (f"{stem}.tflite", f"{stem}_edgetpu.tflite"):
        (path.parent / name).write_bytes((EDGETPU_DATA / name).read_bytes())
    return path.parent / f"{stem}_edgetpu.tflite"


def hef_of(onnx_builder):
    """A HEF of the hailo_platform double: the ONNX model behind its header (tests/fakes/hailo_platform)."""

    def build(path: Path) -> Path:
        from hailo_platform import hef

        onnx_path = onnx_builder(path.with_suffix(".onnx"))
        return hef.write(onnx_path, path)

    return build


def xmodel_of(onnx_builder):
    """An xmodel of the xir/vart double: the ONNX model behind its header (tests/fakes/xir/xmodel.py)."""

    def build(path: Path) -> Path:
        from xir import xmodel

        return xmodel.write(onnx_builder(path.with_suffix(".onnx")), path)

    return build


#: format -> (a dynamic-batch model or None where the format has none, a model whose batch is
#: fixed at 1 or None where the format has no such thing), built under a directory
FORMATS = {
    "onnx": (models.tiny, models.static_batch),
    "tflite": (models.tflite_tiny, models.tflite_static),
    # Edge TPU models are compiled for fixed shapes: the battery runs them at batch 1
    "edgetpu": (None, edgetpu_compiled),
    # HailoRT streams any number of frames through a HEF: no batch is compiled in
    "hef": (hef_of(models.tiny), None),
    # a DPU runs the batch of its hardware (the double's: 1), whatever the model says
    "xmodel": (None, xmodel_of(models.tiny)),
}
#: the precision a format's contract model runs at (the Edge TPU computes in 8-bit integers only)
PRECISION = {"edgetpu": "int8", "hef": "int8", "xmodel": "int8"}
#: backend options the batteries pass (the libedgetpu double is a file built for the session)
OPTIONS: dict[str, dict[str, str]] = {}


def build_models(root: Path) -> dict[str, tuple[Path | None, Path | None]]:
    out = {}
    for fmt, (dynamic, static) in FORMATS.items():
        (root / fmt).mkdir(parents=True, exist_ok=True)
        static_path = static(root / fmt / f"contract-static.{fmt}") if static else None
        out[fmt] = (dynamic(root / f"contract-dynamic.{fmt}") if dynamic else None, static_path)
    return out


def cli_options(name: str) -> list[str]:
    return [arg for key, value in OPTIONS.get(name, {}).items() for arg in ("--backend-option", f"{key}={value}")]


def worker_pids(parent: int) -> list[int]:
    """The vedliot-runner worker processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"vedliot_runner.worker" in cmdline:
            found.append(int(entry.name))
    return found


def wait_for_worker(parent: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(parent)
        if pids:
            return pids[0]
        time.sleep(0.02)
    raise AssertionError(f"no worker process of {parent} within {timeout} s")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler installed for `signum` (SigCgt of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def finite_outputs(outputs) -> bool:
    return all(isinstance(o, np.ndarray) and np.isfinite(o).all() for o in outputs)


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
