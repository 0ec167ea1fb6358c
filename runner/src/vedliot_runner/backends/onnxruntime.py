"""ONNX Runtime backend: runs an .onnx file as given (fp32, fp16 or QDQ int8) on the chosen providers."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner import onnx_precision
from vedliot_runner.backends.base import Backend, BackendSettings, Feeds
from vedliot_runner.errors import ModelFileError, UnsupportedError
from vedliot_runner.options import MAX_THREADS, option
from vedliot_runner.record import Scalar, TensorInfo

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(uint16)": "uint16",
    "tensor(int32)": "int32",
    "tensor(uint32)": "uint32",
    "tensor(int64)": "int64",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
}
_OPT_LEVELS = ("disable", "basic", "extended", "layout", "all")


def _provider_list(text: str) -> Optional[str]:
    return None if any(p.strip() for p in text.split(",")) else "name at least one execution provider"


def _tensor(arg) -> TensorInfo:
    shape = [d if isinstance(d, int) else (d or "?") for d in (arg.shape or [])]
    return TensorInfo(name=arg.name, dtype=_ORT_TYPES.get(arg.type, arg.type), shape=shape)


@dataclasses.dataclass(frozen=True)
class OnnxRuntimeOptions:
    providers: str = option(
        "CPUExecutionProvider", "comma-separated execution providers in priority order", check=_provider_list
    )
    graph_optimization_level: str = option("all", "graph optimisations", choices=_OPT_LEVELS)
    intra_op_num_threads: Optional[int] = option(
        None,
        "threads inside one operator (default: --threads, else ONNX Runtime's choice)",
        minimum=0,
        maximum=MAX_THREADS,
    )
    inter_op_num_threads: Optional[int] = option(
        None, "threads across operators in parallel execution mode", minimum=0, maximum=MAX_THREADS
    )
    execution_mode: str = option("sequential", "execution of independent nodes", choices=("sequential", "parallel"))
    device_id: Optional[int] = option(None, "device index for the CUDA/TensorRT providers", minimum=0, maximum=1024)
    log_severity_level: int = option(
        4, "0 verbose .. 4 fatal (failures reach the user through the record)", choices=(0, 1, 2, 3, 4)
    )


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    Options = OnnxRuntimeOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import onnxruntime

        self._ort = onnxruntime
        self._session = None
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)
        self._output_names: Optional[List[str]] = None
        self._options = self._session_options()

    def version(self) -> Optional[str]:
        return self._ort.__version__

    def packages(self) -> Dict[str, Optional[str]]:
        import onnx

        return {"onnxruntime": self._ort.__version__, "onnx": onnx.__version__}

    def _providers(self) -> List[str]:
        wanted = [p.strip() for p in self.options.providers.split(",") if p.strip()]
        available = self._ort.get_available_providers()
        missing = [p for p in wanted if p not in available]
        if missing:
            raise UnsupportedError(
                "execution provider {} is not available in this onnxruntime build (available: {})".format(
                    ", ".join(missing), ", ".join(available)
                )
            )
        return wanted

    def _session_options(self):
        opts = self.options
        so = self._ort.SessionOptions()
        so.log_severity_level = opts.log_severity_level
        levels = self._ort.GraphOptimizationLevel
        so.graph_optimization_level = {
            "disable": levels.ORT_DISABLE_ALL,
            "basic": levels.ORT_ENABLE_BASIC,
            "extended": levels.ORT_ENABLE_EXTENDED,
            "layout": getattr(levels, "ORT_ENABLE_LAYOUT", levels.ORT_ENABLE_ALL),
            "all": levels.ORT_ENABLE_ALL,
        }[opts.graph_optimization_level]
        if opts.intra_op_num_threads is not None:
            so.intra_op_num_threads = opts.intra_op_num_threads
        elif self.threads:
            so.intra_op_num_threads = self.threads
        if opts.inter_op_num_threads is not None:
            so.inter_op_num_threads = opts.inter_op_num_threads
        modes = self._ort.ExecutionMode
        so.execution_mode = modes.ORT_PARALLEL if opts.execution_mode == "parallel" else modes.ORT_SEQUENTIAL
        return so

    def _provider_options(self, providers: List[str]) -> List[Dict[str, str]]:
        device = self.options.device_id
        if device is None:
            return [{} for _ in providers]
        return [{"device_id": str(device)} if p != "CPUExecutionProvider" else {} for p in providers]

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        import onnx

        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
            raise ModelFileError(
                "{}: not a readable ONNX model, or truncated ({}: {})".format(path, type(exc).__name__, exc)
            ) from None
        if not model.graph.node:
            raise ModelFileError("{}: not an ONNX model (no graph nodes); check the file".format(path))
        precision, detail = onnx_precision.precision_of(model)

        providers = self._providers()
        options = self._options
        probe_dir = None
        if precision == "fp16" and providers[0] == "CPUExecutionProvider":
            # The CPU provider lacks fp16 kernels for many ops and silently inserts Casts to fp32;
            # the optimised graph it writes out shows how many.
            probe_dir = tempfile.mkdtemp(prefix="vedliot-ort-")
            options.optimized_model_filepath = os.path.join(probe_dir, "optimized.onnx")
        try:
            self._session = self._ort.InferenceSession(
                str(path), sess_options=options, providers=providers, provider_options=self._provider_options(providers)
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime's pybind exceptions share no base class
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError("{}: ONNX Runtime cannot load it: {}".format(path, message)) from None
        if probe_dir is not None:
            precision, detail = self._cpu_fp16_fallback(model, options.optimized_model_filepath, detail)
            for name in os.listdir(probe_dir):
                os.unlink(os.path.join(probe_dir, name))
            os.rmdir(probe_dir)
        self._precision = (precision, detail)
        self._output_names = [o.name for o in self._session.get_outputs()]
        inputs = [_tensor(i) for i in self._session.get_inputs()]
        outputs = [_tensor(o) for o in self._session.get_outputs()]
        return inputs, outputs

    @staticmethod
    def _cpu_fp16_fallback(model, optimized_path: str, detail: str) -> Tuple[str, str]:
        import onnx

        try:
            optimized = onnx.load(optimized_path, load_external_data=False)
        except Exception:  # noqa: BLE001 - the probe is best effort; the model itself loaded
            return "fp16", detail
        inserted = onnx_precision.count_ops(optimized, "Cast") - onnx_precision.count_ops(model, "Cast")
        if inserted > 0:
            return (
                "mixed",
                "{}; CPUExecutionProvider inserted {} Cast nodes: ops without fp16 kernels ran in fp32".format(
                    detail, inserted
                ),
            )
        return "fp16", detail

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        return self._precision

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        if self._session is not None:
            # What the session really uses, fallbacks included.
            resolved["providers"] = ",".join(self._session.get_providers())
        return resolved

    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        return self._session.run(self._output_names, feeds)

    def close(self) -> None:
        self._session = None
