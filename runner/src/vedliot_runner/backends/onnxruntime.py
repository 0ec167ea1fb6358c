"""ONNX Runtime backend: runs an .onnx file as given (fp32, fp16 or QDQ int8) on the chosen providers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner import onnx_precision
from vedliot_runner.backends.base import Backend, BackendSettings, Feeds
from vedliot_runner.errors import ModelFileError, UnsupportedError, UsageError
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


def _tensor(arg) -> TensorInfo:
    shape = [d if isinstance(d, int) else (d or "?") for d in (arg.shape or [])]
    return TensorInfo(name=arg.name, dtype=_ORT_TYPES.get(arg.type, arg.type), shape=shape)


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise UsageError("--backend-option {}={}: expected a non-negative integer".format(name, value))
    return number


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    options = {
        "providers": "comma-separated execution providers in priority order (default CPUExecutionProvider)",
        "graph_optimization_level": "disable|basic|extended|layout|all (default all)",
        "intra_op_num_threads": "threads inside one operator (default: --threads, else ONNX Runtime's choice)",
        "inter_op_num_threads": "threads across operators in parallel execution mode",
        "execution_mode": "sequential|parallel (default sequential)",
        "device_id": "device index for the CUDA/TensorRT providers",
        "log_severity_level": "0 verbose .. 4 fatal (default 4: failures reach the user through the record)",
    }

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import onnxruntime

        self._ort = onnxruntime
        self._session = None
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)
        self._output_names: Optional[List[str]] = None
        # Option values are checked now, before a record exists: a typo is a usage error.
        self._options = self._session_options()

    def version(self) -> Optional[str]:
        return self._ort.__version__

    def packages(self) -> Dict[str, Optional[str]]:
        import onnx

        return {"onnxruntime": self._ort.__version__, "onnx": onnx.__version__}

    def _providers(self) -> List[str]:
        wanted = [p.strip() for p in self.raw_options.get("providers", "CPUExecutionProvider").split(",") if p.strip()]
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
        so = self._ort.SessionOptions()
        so.log_severity_level = _positive_int("log_severity_level", self.raw_options.get("log_severity_level", "4"))
        level = self.raw_options.get("graph_optimization_level", "all")
        if level not in _OPT_LEVELS:
            raise UsageError(
                "--backend-option graph_optimization_level={}: choose from {}".format(level, ", ".join(_OPT_LEVELS))
            )
        levels = self._ort.GraphOptimizationLevel
        so.graph_optimization_level = {
            "disable": levels.ORT_DISABLE_ALL,
            "basic": levels.ORT_ENABLE_BASIC,
            "extended": levels.ORT_ENABLE_EXTENDED,
            "layout": getattr(levels, "ORT_ENABLE_LAYOUT", levels.ORT_ENABLE_ALL),
            "all": levels.ORT_ENABLE_ALL,
        }[level]
        intra = self.raw_options.get("intra_op_num_threads")
        if intra is not None:
            so.intra_op_num_threads = _positive_int("intra_op_num_threads", intra)
        elif self.threads:
            so.intra_op_num_threads = self.threads
        inter = self.raw_options.get("inter_op_num_threads")
        if inter is not None:
            so.inter_op_num_threads = _positive_int("inter_op_num_threads", inter)
        execution = self.raw_options.get("execution_mode", "sequential")
        if execution not in ("sequential", "parallel"):
            raise UsageError("--backend-option execution_mode={}: choose sequential or parallel".format(execution))
        so.execution_mode = (
            self._ort.ExecutionMode.ORT_PARALLEL if execution == "parallel" else self._ort.ExecutionMode.ORT_SEQUENTIAL
        )
        return so

    def _provider_options(self, providers: List[str]) -> List[Dict[str, str]]:
        device = self.raw_options.get("device_id")
        if device is None:
            return [{} for _ in providers]
        _positive_int("device_id", device)
        return [{"device_id": device} if p != "CPUExecutionProvider" else {} for p in providers]

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
        resolved: Dict[str, Scalar] = {"graph_optimization_level": "all", "execution_mode": "sequential"}
        resolved.update(self.raw_options)
        if self._session is not None:
            # What the session really uses, fallbacks included.
            resolved["providers"] = ",".join(self._session.get_providers())
        return resolved

    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        return self._session.run(self._output_names, feeds)

    def close(self) -> None:
        self._session = None
