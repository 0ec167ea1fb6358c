"""Backend registry. Backend modules are imported only when asked for: a board has one SDK, not all."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Dict, NamedTuple, Optional, Type

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
    #: where the runtime comes from when pip cannot install it (default: the pip extra)
    install: str = ""
    #: the zoo's int8 ONNX form the backend runs best (zoo/quantize.py)
    int8_form: str = "s8s8"

    def how_to_install(self) -> str:
        return self.install or "pip install 'vedliot-runner[{}]'".format(self.extra)


REGISTRY: Dict[str, BackendEntry] = {
    # ONNX Runtime's CPU int8 kernels take uint8 activations (u8 x s8 GEMMs): its own int8 form
    "onnxruntime": BackendEntry(
        "vedliot_runner.backends.onnxruntime",
        "OnnxRuntimeBackend",
        "onnxruntime",
        "onnx",
        ("onnxruntime", "onnx"),
        int8_form="u8s8",
    ),
    "openvino": BackendEntry(
        "vedliot_runner.backends.openvino", "OpenVinoBackend", "openvino", "onnx", ("openvino",), ("bf16", "fp16")
    ),
    "tvm": BackendEntry("vedliot_runner.backends.tvm", "TvmBackend", "tvm", "onnx", ("tvm", "onnx"), ("fp16",)),
    "tensorrt": BackendEntry(
        "vedliot_runner.backends.tensorrt", "TensorRtBackend", "tensorrt", "onnx", ("tensorrt", "cuda")
    ),
    # trtexec is a program, not a module: its absence is an `unsupported` record from the backend.
    "trtexec": BackendEntry("vedliot_runner.backends.trtexec", "TrtexecBackend", "trtexec", "onnx", ("onnx",)),
    "litert": BackendEntry(
        "vedliot_runner.backends.litert", "LiteRtBackend", "litert", "tflite", ("ai_edge_litert|tflite_runtime",)
    ),
    # Coral Edge TPU: *_edgetpu.tflite files (edgetpu_compiler's output) with libedgetpu
    "edgetpu": BackendEntry(
        "vedliot_runner.backends.edgetpu", "EdgeTpuBackend", "edgetpu", "edgetpu", ("tflite_runtime|ai_edge_litert",)
    ),
    # Hailo-8/8L: compiled .hef files through HailoRT 4.x (hailo_platform, from Hailo's own wheel)
    "hailort": BackendEntry(
        "vedliot_runner.backends.hailort",
        "HailoRtBackend",
        "hailort",
        "hef",
        ("hailo_platform",),
        install="Hailo's HailoRT wheel (Developer Zone login; images/hailo/vendor/README.md)",
    ),
    # Xilinx DPU (Zynq UltraScale+, Versal): compiled .xmodel files through Vitis AI's xir and vart
    "vart": BackendEntry(
        "vedliot_runner.backends.vart",
        "VartBackend",
        "vart",
        "xmodel",
        ("vart", "xir"),
        install="the board image's Vitis AI runtime (PetaLinux, Kria Ubuntu); in a container, mount it (docs/edge.md)",
    ),
    # i.MX 8M Plus NPU: full-integer .tflite files with NXP's VX delegate
    "vx": BackendEntry("vedliot_runner.backends.vx", "VxBackend", "vx", "tflite", ("tflite_runtime|ai_edge_litert",)),
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


def entry_of(name: str) -> BackendEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(
            "--backend {}: unknown backend (choose from {})".format(name, ", ".join(sorted(REGISTRY)))
        ) from None


def backend_type(name: str) -> Type[Backend]:
    """The backend's class, without importing its vendor SDK (backend modules import it lazily):
    what the parent process needs to parse options before a worker starts."""
    entry = entry_of(name)
    return getattr(importlib.import_module(entry.module), entry.cls)


def missing_requirement(name: str) -> Optional[str]:
    """Why the backend cannot be imported here, found without importing it (a vendor runtime
    may crash its importer: that happens in the worker), or None."""
    entry = entry_of(name)
    for requirement in entry.requires:
        alternatives = requirement.split("|")
        if not any(_findable(package) for package in alternatives):
            return "backend '{}' is not installed here (no module named {}); install it with: {}".format(
                name, " or ".join(repr(p) for p in alternatives), entry.how_to_install()
            )
    return None


def _findable(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def backend_class(name: str) -> Type[Backend]:
    """The backend's class with its requirements imported (in the worker: BackendNotInstalled
    when an import fails)."""
    entry = entry_of(name)
    for package in entry.requires:
        try:
            import_requirement(package)
        except ImportError as exc:
            raise BackendNotInstalled(
                "backend '{}' is not installed here ({}); install it with: {}".format(name, exc, entry.how_to_install())
            ) from None
    module = importlib.import_module(entry.module)
    return getattr(module, entry.cls)
