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

#: format -> (a dynamic-batch model, a model whose batch is fixed at 1), built under a directory
FORMATS = {
    "onnx": (models.tiny, models.static_batch),
    "tflite": (models.tflite_tiny, models.tflite_static),
}


def build_models(root: Path) -> dict[str, tuple[Path, Path]]:
    out = {}
    for fmt, (dynamic, static) in FORMATS.items():
        out[fmt] = (dynamic(root / f"contract-dynamic.{fmt}"), static(root / f"contract-static.{fmt}"))
    return out


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
