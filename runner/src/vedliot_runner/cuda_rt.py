"""The CUDA runtime through NVIDIA's cuda-python: the device memory, streams and events TensorRT
needs (TensorRT has no allocator of its own; NVIDIA's samples use the same calls).

cuda-python returns a tuple from every call, its first item a cudaError_t; this module turns a
non-zero one into a CudaError naming the call and the error, so that a backend can tell "no
GPU" and "driver too old" (an `unsupported` record) from a failure while running. The module is
`cuda.bindings.runtime` from cuda-python 12.6 on, `cuda.cudart` before (and the only one on
Python 3.8 boards).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Tuple

#: cudaError_t values the runner words itself (driver_types.h)
SUCCESS = 0
MEMORY_ALLOCATION = 2
INSUFFICIENT_DRIVER = 35
NO_DEVICE = 100
#: not a cudaError_t: cuda-python 12.6 raises RuntimeError where no libcuda.so.1 can be loaded
NO_DRIVER = -1


class CudaError(Exception):
    def __init__(self, call: str, code: int, name: str) -> None:
        super().__init__("{}: {} ({})".format(call, name, code))
        self.call, self.code, self.name = call, code, name


@dataclasses.dataclass(frozen=True)
class Device:
    index: int
    name: str
    major: int
    minor: int
    memory_bytes: int
    runtime_version: int
    driver_version: int

    @property
    def compute_capability(self) -> str:
        return "{}.{}".format(self.major, self.minor)


def import_runtime() -> Tuple[Any, str]:
    """(the cuda-python runtime module, its version); ImportError when cuda-python is missing."""
    try:
        from cuda.bindings import runtime  # cuda-python 12.6 and later
    except ImportError:
        from cuda import cudart as runtime  # earlier releases
    version = "unknown"
    try:
        from importlib import metadata

        for dist in ("cuda-python", "cuda-bindings"):
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    except ImportError:
        pass
    return runtime, version


def version_text(number: int) -> str:
    """CUDA's integer versions: 12060 -> 12.6."""
    return "{}.{}".format(number // 1000, number % 1000 // 10)


class Cuda:
    """The calls a TensorRT backend makes, each checked."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    def _call(self, name: str, *args: Any) -> Any:
        try:
            result = getattr(self.rt, name)(*args)
        except RuntimeError as exc:  # cuda-python 12.6 without a driver: "Failed to dlopen libcuda.so.1"
            raise CudaError(name, NO_DRIVER, "no NVIDIA driver ({})".format(exc)) from None
        code = int(result[0])
        if code != SUCCESS:
            raise CudaError(name, code, self.error_name(result[0]))
        rest = result[1:]
        return rest[0] if len(rest) == 1 else (rest or None)

    def error_name(self, error: Any) -> str:
        try:
            name = self.rt.cudaGetErrorName(error)[1]
        except Exception:  # noqa: BLE001 - the name is a courtesy; the code is in the message
            return "cudaError {}".format(int(error))
        return name.decode() if isinstance(name, bytes) else str(name)

    def device(self, index: int) -> Device:
        """The GPU at `index` (CudaError: none, or the driver is older than this runtime)."""
        count = self._call("cudaGetDeviceCount")
        if index >= count:
            raise CudaError("cudaGetDeviceCount", NO_DEVICE, "no GPU {} (this machine has {})".format(index, count))
        self._call("cudaSetDevice", index)
        props = self._call("cudaGetDeviceProperties", index)
        name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
        return Device(
            index=index,
            name=name.rstrip("\x00").strip(),
            major=int(props.major),
            minor=int(props.minor),
            memory_bytes=int(props.totalGlobalMem),
            runtime_version=int(self._call("cudaRuntimeGetVersion")),
            driver_version=int(self._call("cudaDriverGetVersion")),
        )

    def driver_version(self) -> int:
        """The driver's CUDA version; 0 where no driver is installed (CUDA then reports the same
        cudaErrorInsufficientDriver as for an old one)."""
        try:
            return int(self._call("cudaDriverGetVersion"))
        except CudaError:
            return 0

    def free_memory(self) -> int:
        free, _total = self._call("cudaMemGetInfo")
        return int(free)

    def malloc(self, size: int) -> int:
        return int(self._call("cudaMalloc", max(1, size)))

    def free(self, pointer: int) -> None:
        self._call("cudaFree", pointer)

    def stream(self) -> Any:
        return self._call("cudaStreamCreate")

    def to_device(self, device_pointer: int, host: Any, stream: Any) -> None:
        self._call(
            "cudaMemcpyAsync",
            device_pointer,
            host.ctypes.data,
            host.nbytes,
            self._kind("cudaMemcpyHostToDevice"),
            stream,
        )

    def to_host(self, host: Any, device_pointer: int, stream: Any) -> None:
        self._call(
            "cudaMemcpyAsync",
            host.ctypes.data,
            device_pointer,
            host.nbytes,
            self._kind("cudaMemcpyDeviceToHost"),
            stream,
        )

    def _kind(self, name: str) -> Any:
        return getattr(self.rt.cudaMemcpyKind, name)

    def synchronize(self, stream: Any) -> None:
        self._call("cudaStreamSynchronize", stream)


def stream_handle(stream: Any) -> int:
    """The integer TensorRT's execute_async_* take for a cudaStream_t object."""
    try:
        return int(stream)
    except TypeError:
        return int(stream.getPtr())
