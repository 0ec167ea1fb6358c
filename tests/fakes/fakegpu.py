"""The GPU behind the cuda-python and tensorrt doubles: device memory as host bytes, addressed by
integers as CUDA's are, shared by both doubles (TensorRT reads what cudaMemcpyAsync wrote).

Environment (read when first imported, so a worker process started with it sees the same GPU):
- VEDLIOT_FAKE_GPU="NAME|MAJOR.MINOR|MEMORY_BYTES" (default an RTX A5000, 8.6, 24 GiB);
- VEDLIOT_FAKE_CUDA=nodevice | olddriver: cudaGetDeviceCount fails as CUDA does without a GPU or
  with a driver older than the runtime;
- VEDLIOT_FAKE_GPU_MEMORY: bytes cudaMalloc may hand out before cudaErrorMemoryAllocation.
"""

from __future__ import annotations

import os
import threading

_spec = os.environ.get("VEDLIOT_FAKE_GPU", "NVIDIA RTX A5000|8.6|25438126080").split("|")
NAME = _spec[0]
MAJOR, MINOR = (int(x) for x in _spec[1].split("."))
TOTAL = int(_spec[2])
FAILURE = os.environ.get("VEDLIOT_FAKE_CUDA", "")
LIMIT = int(os.environ.get("VEDLIOT_FAKE_GPU_MEMORY", str(TOTAL)))
RUNTIME_VERSION = 12060
DRIVER_VERSION = 12040 if FAILURE == "olddriver" else 12080

memory: dict[int, bytearray] = {}
_lock = threading.Lock()
_next = [0x7F0000000000]


def allocate(size: int) -> int | None:
    with _lock:
        if sum(len(b) for b in memory.values()) + size > LIMIT:
            return None
        pointer = _next[0]
        _next[0] += (size + 0xFFFF) & ~0xFFFF
        memory[pointer] = bytearray(size)
        return pointer


def used() -> int:
    return sum(len(b) for b in memory.values())


def buffer(pointer: int) -> bytearray:
    try:
        return memory[pointer]
    except KeyError:
        raise ValueError(f"fake GPU: {pointer:#x} is not a device allocation") from None
