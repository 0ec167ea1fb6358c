"""Synthetic inputs generated from a model's input signature (dtype and shape)."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from vedliot_runner.errors import RuntimeFailure, UnsupportedError, UsageError
from vedliot_runner.record import TensorInfo

Dim = Union[int, str, None]


def is_symbolic(dim: Dim) -> bool:
    return not isinstance(dim, int) or dim < 0


def concrete_shape(tensor: TensorInfo, batch_size: int, override: Sequence[int] = ()) -> List[int]:
    """The shape to feed: `override` if given; else the declared shape, the batch dimension
    (the first) set to batch_size. A static batch dimension must equal batch_size."""
    if override:
        if len(override) != len(tensor.shape):
            raise UsageError(
                "--input-shape {}: {} dimensions given, the model declares {} ({})".format(
                    tensor.name, len(override), len(tensor.shape), _fmt(tensor.shape)
                )
            )
        if int(override[0]) != batch_size:
            raise UsageError(
                "--input-shape {}: first dimension {} is the batch and must equal --batch-size {}".format(
                    tensor.name, override[0], batch_size
                )
            )
        return [int(d) for d in override]
    if not tensor.shape:
        return []
    first, rest = tensor.shape[0], tensor.shape[1:]
    if is_symbolic(first):
        batch = batch_size
    elif first == batch_size:
        batch = first
    else:
        raise UnsupportedError(
            "input '{}' has a static batch dimension of {} ({}); run with --batch-size {} "
            "or export the model with a dynamic batch".format(tensor.name, first, _fmt(tensor.shape), first)
        )
    dims = [batch]
    for dim in rest:
        if is_symbolic(dim):
            raise UsageError(
                "input '{}' has a symbolic dimension {!r} besides the batch ({}); "
                "give its shape with --input-shape {}=D0,D1,...".format(
                    tensor.name, dim, _fmt(tensor.shape), tensor.name
                )
            )
        dims.append(int(dim))
    return dims


def _fmt(shape: Sequence[Dim]) -> str:
    return "x".join(str(d) for d in shape)


def numpy_dtype(tensor: TensorInfo) -> np.dtype:
    """The numpy type of an input; UnsupportedError for types with no synthetic generator."""
    try:
        np_dtype = np.dtype(tensor.dtype)
    except TypeError:
        np_dtype = None
    if np_dtype is None or np_dtype.kind not in "fbiu":
        raise UnsupportedError(
            "input '{}' is of type {}: synthetic inputs exist for float, integer and bool tensors only".format(
                tensor.name, tensor.dtype
            )
        )
    return np_dtype


def synthetic_array(dtype: str, shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Values in each dtype's usual range: N(0,1) for floats, the full range for 8-bit integers
    (quantized images), small non-negative values for wider integers (indices, lengths)."""
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        return rng.standard_normal(size=tuple(shape), dtype=np.float32).astype(np_dtype)
    if np_dtype.kind == "b":
        return rng.integers(0, 2, size=tuple(shape)).astype(np.bool_)
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        low, high = (int(info.min), int(info.max) + 1) if np_dtype.itemsize == 1 else (0, 10)
        return rng.integers(low, high, size=tuple(shape), dtype=np_dtype)
    raise UnsupportedError("cannot generate synthetic data of dtype {}".format(dtype))


def synthetic_inputs(
    tensors: Sequence[TensorInfo],
    batch_size: int,
    seed: int,
    overrides: Mapping[str, Sequence[int]] = {},
) -> Dict[str, np.ndarray]:
    unknown = sorted(set(overrides) - {t.name for t in tensors})
    if unknown:
        raise UsageError(
            "--input-shape names {} but the model's inputs are {}".format(
                ", ".join(unknown), ", ".join(t.name for t in tensors)
            )
        )
    if batch_size > 1 and not any(t.shape for t in tensors) and not any(overrides.values()):
        what = "no inputs" if not tensors else "only scalar inputs ({})".format(", ".join(t.name for t in tensors))
        raise UnsupportedError(
            "--batch-size {}: the model has {}, so no batch dimension; run it with --batch-size 1".format(
                batch_size, what
            )
        )
    plan = [(t, numpy_dtype(t), concrete_shape(t, batch_size, overrides.get(t.name, ()))) for t in tensors]
    _check_memory(plan)
    rng = np.random.default_rng(seed)
    return {t.name: synthetic_array(dtype.name, shape, rng) for t, dtype, shape in plan}


def _check_memory(plan) -> None:
    """Refuse inputs that cannot fit before allocating them (a 1x3x20000x20000 float input is
    4.8 GB; --batch-size 1000000000 far more), naming the sizes."""
    needed = sum(int(np.prod(shape, dtype=np.float64)) * dtype.itemsize for _, dtype, shape in plan)
    available = available_memory_bytes()
    if available is not None and needed > available:
        largest = max(plan, key=lambda item: float(np.prod(item[2], dtype=np.float64)) * item[1].itemsize)
        raise RuntimeFailure(
            "the synthetic inputs need {:.1f} GB (input '{}' {} {}) and this host has {:.1f} GB available; "
            "lower --batch-size or --input-shape".format(
                needed / 1e9, largest[0].name, "x".join(map(str, largest[2])), largest[1].name, available / 1e9
            )
        )


def available_memory_bytes() -> Optional[int]:
    """MemAvailable of /proc/meminfo (None where there is none)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
