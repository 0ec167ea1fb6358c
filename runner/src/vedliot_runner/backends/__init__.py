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
    #: top-level packages whose absence means "not installed" rather than a bug
    requires: tuple


REGISTRY: Dict[str, BackendEntry] = {
    "onnxruntime": BackendEntry(
        "vedliot_runner.backends.onnxruntime", "OnnxRuntimeBackend", "onnxruntime", "onnx", ("onnxruntime", "onnx")
    ),
}


def backend_class(name: str) -> Type[Backend]:
    try:
        entry = REGISTRY[name]
    except KeyError:
        raise UsageError(
            "--backend {}: unknown backend (choose from {})".format(name, ", ".join(sorted(REGISTRY)))
        ) from None
    for package in entry.requires:
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise BackendNotInstalled(
                "backend '{}' is not installed here ({}); install it with: pip install 'vedliot-runner[{}]'".format(
                    name, exc, entry.extra
                )
            ) from None
    module = importlib.import_module(entry.module)
    return getattr(module, entry.cls)
