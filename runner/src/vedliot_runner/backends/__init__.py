"""Backend registry. Backend modules are imported only when asked for: a board has one SDK, not all."""

from __future__ import annotations

import importlib
from typing import Dict, NamedTuple, Type

from vedliot_runner.backends.base import Backend
from vedliot_runner.errors import BackendNotInstalled, UsageError


class BackendEntry(NamedTuple):
    module: str
    cls: str
    extra: str
    #: model file format the backend runs (picks the file of a zoo model)
    format: str
    #: top-level packages whose absence means "not installed" rather than a bug ("a|b": either)
    requires: tuple
    #: precisions the backend produces itself from an fp32 file (a zoo run falls back to that file)
    converts: tuple = ()


REGISTRY: Dict[str, BackendEntry] = {
    "onnxruntime": BackendEntry(
        "vedliot_runner.backends.onnxruntime", "OnnxRuntimeBackend", "onnxruntime", "onnx", ("onnxruntime", "onnx")
    ),
    "openvino": BackendEntry(
        "vedliot_runner.backends.openvino", "OpenVinoBackend", "openvino", "onnx", ("openvino",), ("bf16", "fp16")
    ),
    "tvm": BackendEntry("vedliot_runner.backends.tvm", "TvmBackend", "tvm", "onnx", ("tvm", "onnx"), ("fp16",)),
    "litert": BackendEntry(
        "vedliot_runner.backends.litert", "LiteRtBackend", "litert", "tflite", ("ai_edge_litert|tflite_runtime",)
    ),
}


def import_requirement(requirement: str):
    """Import one of the alternatives of a `requires` item; ImportError naming all if none imports."""
    errors = []
    for package in requirement.split("|"):
        try:
            return importlib.import_module(package)
        except ImportError as exc:
            errors.append(str(exc))
    raise ImportError("; ".join(errors))


def backend_class(name: str) -> Type[Backend]:
    try:
        entry = REGISTRY[name]
    except KeyError:
        raise UsageError(
            "--backend {}: unknown backend (choose from {})".format(name, ", ".join(sorted(REGISTRY)))
        ) from None
    for package in entry.requires:
        try:
            import_requirement(package)
        except ImportError as exc:
            raise BackendNotInstalled(
                "backend '{}' is not installed here ({}); install it with: pip install 'vedliot-runner[{}]'".format(
                    name, exc, entry.extra
                )
            ) from None
    module = importlib.import_module(entry.module)
    return getattr(module, entry.cls)
