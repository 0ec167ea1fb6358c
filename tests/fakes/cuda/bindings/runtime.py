"""Double of cuda-python's `cuda.bindings.runtime` (the CUDA runtime API), for the calls the
TensorRT backend makes, with their documented shapes: every function returns a tuple whose first
item is a cudaError_t (cudaError_t.cudaSuccess == 0), the results after it; cudaStream_t objects
convert with int(); cudaDeviceProp has name (bytes), major, minor, totalGlobalMem. Names and
no-GPU results are checked against the real cuda-python by tests/test_tensorrt_doubles.py."""

from __future__ import annotations

import ctypes
import enum
import types

import fakegpu


class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101


class cudaMemcpyKind(enum.IntEnum):
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3
    cudaMemcpyDefault = 4


class cudaStream_t:
    _count = 0

    def __init__(self) -> None:
        cudaStream_t._count += 1
        self._ptr = 0x5000 + cudaStream_t._count

    def __int__(self) -> int:
        return self._ptr

    def getPtr(self) -> int:
        return self._ptr


_ok = cudaError_t.cudaSuccess
_device = [0]


def cudaGetErrorName(error):
    return _ok, cudaError_t(int(error)).name.encode()


def cudaGetErrorString(error):
    return _ok, cudaError_t(int(error)).name.encode()


def cudaGetDeviceCount():
    if fakegpu.FAILURE == "nodevice":
        return cudaError_t.cudaErrorNoDevice, 0
    if fakegpu.FAILURE == "olddriver":
        return cudaError_t.cudaErrorInsufficientDriver, 0
    return _ok, 1


def cudaSetDevice(device):
    if device != 0:
        return (cudaError_t.cudaErrorInvalidDevice,)
    _device[0] = device
    return (_ok,)


def cudaGetDeviceProperties(device):
    props = types.SimpleNamespace(name=fakegpu.NAME.encode(), major=fakegpu.MAJOR, minor=fakegpu.MINOR,
                                  totalGlobalMem=fakegpu.TOTAL)  # fmt: skip
    return _ok, props


def cudaRuntimeGetVersion():
    return _ok, fakegpu.RUNTIME_VERSION


def cudaDriverGetVersion():
    return _ok, fakegpu.DRIVER_VERSION


def cudaMemGetInfo():
    return _ok, fakegpu.TOTAL - fakegpu.used(), fakegpu.TOTAL


def cudaMalloc(size):
    pointer = fakegpu.allocate(size)
    if pointer is None:
        return cudaError_t.cudaErrorMemoryAllocation, 0
    return _ok, pointer


def cudaFree(devPtr):
    fakegpu.memory.pop(int(devPtr), None)
    return (_ok,)


def cudaStreamCreate():
    return _ok, cudaStream_t()


def cudaStreamDestroy(stream):
    return (_ok,)


def cudaStreamSynchronize(stream):
    return (_ok,)  # the double's copies and executions complete when enqueued


def cudaMemcpyAsync(dst, src, count, kind, stream):
    if not isinstance(kind, cudaMemcpyKind):
        raise TypeError("Argument 'kind' is not instance of type (expected <enum 'cudaMemcpyKind'>)")
    if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:
        target = fakegpu.buffer(int(dst))
        if count > len(target):
            return (cudaError_t.cudaErrorInvalidValue,)
        target[:count] = ctypes.string_at(int(src), count)
    elif kind == cudaMemcpyKind.cudaMemcpyDeviceToHost:
        source = fakegpu.buffer(int(src))
        if count > len(source):
            return (cudaError_t.cudaErrorInvalidValue,)
        ctypes.memmove(int(dst), bytes(source[:count]), count)
    else:
        return (cudaError_t.cudaErrorInvalidValue,)
    return (_ok,)
