"""OpenVINO backend (the `openvino` package; `openvino.runtime` was removed in 2025).

--mode maps to PERFORMANCE_HINT (LATENCY / THROUGHPUT); throughput mode drives an AsyncInferQueue
with the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS. --precision maps to
INFERENCE_PRECISION_HINT, so a requested fp32 runs fp32 even where OpenVINO would silently pick
bf16 (CPUs with AVX512-BF16 or AMX). What ran is read back from the compiled model's runtime graph.
Dynamic dimensions are fixed to --batch-size (and --input-shape) before compiling, as
benchmark_app's -shape does: OpenVINO's CPU plugin runs static shapes faster.

Intel's Myriad X (`device=MYRIAD`) exists only up to OpenVINO 2022.3 LTS, whose API lives in
`openvino.runtime` and whose infer() takes no sharing flags: both generations are driven. MYRIAD
computes in fp16 only (its OPTIMIZATION_CAPABILITIES) and takes no precision or thread hints; its
request count is the plugin's own OPTIMAL_NUMBER_OF_INFER_REQUESTS. The record names OpenVINO's
version and the device's full name.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import inspect
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner.backends.base import Backend, BackendSettings, Feeds, OnComplete
from vedliot_runner.errors import ModelFileError, UnsupportedError
from vedliot_runner.options import option, writable_directory
from vedliot_runner.record import Scalar, TensorInfo

_HINTS = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": "f32"}
_RUNTIME_PRECISION = {"f32": "fp32", "f16": "fp16", "bf16": "bf16", "i8": "int8", "u8": "int8", "i4": "int4"}
# Runtime-graph layer types that carry the multiply-accumulates.
_COMPUTE_LAYERS = {"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul", "Gemm"}
_MAJORITY = 0.9


def runtime_precision(layers: List[Tuple[str, str]]) -> Tuple[Optional[str], str]:
    """(precision, detail) from (layerType, runtimePrecision) pairs of a runtime graph."""
    counts = collections.Counter(
        _RUNTIME_PRECISION.get(precision.lower(), precision.lower())
        for layer, precision in layers
        if layer in _COMPUTE_LAYERS
    )
    total = sum(counts.values())
    if not total:
        return None, "no compute layers in the runtime graph"
    detail = "compute layers: " + ", ".join("{} {}".format(n, p) for p, n in counts.most_common())
    precision, n = counts.most_common(1)[0]
    if n / total >= _MAJORITY and precision in _RUNTIME_PRECISION.values():
        return precision, detail
    return "mixed", detail


def _streams(text: str) -> Optional[str]:
    if text.upper() == "AUTO" or (text.isdigit() and int(text) >= 1):
        return None
    return "expected a positive number of streams or AUTO"


@dataclasses.dataclass(frozen=True)
class OpenVinoOptions:
    device: str = option("CPU", "CPU, GPU, NPU, or MYRIAD on 2022.3 LTS; AUTO/HETERO strings are passed through")
    cache_dir: Optional[str] = option(
        None, "model cache directory (OpenVINO's CACHE_DIR): later loads skip compilation", check=writable_directory
    )
    num_streams: Optional[str] = option(None, "NUM_STREAMS (default: chosen by the performance hint)", check=_streams)
    infer_precision: Optional[str] = option(
        None, "INFERENCE_PRECISION_HINT override (default: follows --precision)", choices=("f32", "f16", "bf16")
    )


class OpenVinoBackend(Backend):
    name = "openvino"
    Options = OpenVinoOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._ov = _openvino()
        self._core = self._ov.Core()
        self._shares: Optional[bool] = None  # infer() takes share_inputs (2023.1+)
        self._compiled = None
        self._request = None
        self._queue = None
        self._config: Dict[str, str] = {}
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)

    def version(self) -> Optional[str]:
        return getattr(self._ov, "__version__", None) or self._ov.get_version()

    def packages(self) -> Dict[str, Optional[str]]:
        return {"openvino": self._ov.get_version()}

    def _base(self) -> str:
        return self.options.device.split(":", 1)[0].split(".", 1)[0].upper()

    def _device(self) -> str:
        device, base = self.options.device, self._base()
        available = self._core.available_devices
        if base not in ("AUTO", "HETERO", "MULTI") and not any(d.split(".", 1)[0] == base for d in available):
            if base == "MYRIAD":
                raise UnsupportedError(myriad_missing(self._core, self._ov.get_version(), available))
            raise UnsupportedError(
                "OpenVINO device {} is not available here (available: {})".format(device, ", ".join(available))
            )
        if base == "MYRIAD" and self.settings.precision != "fp16":
            raise UnsupportedError(
                "MYRIAD executes fp16 only: run with --precision fp16 (from an fp32 or fp16 IR or ONNX file)"
            )
        return device

    def _compile_config(self) -> Dict[str, str]:
        config = {"PERFORMANCE_HINT": "THROUGHPUT" if self.mode == "throughput" else "LATENCY"}
        if self._base() == "MYRIAD":  # the MYRIAD plugin takes neither precision nor thread hints
            return config
        hint = self.options.infer_precision or _HINTS.get(self.settings.precision)
        if hint:
            config["INFERENCE_PRECISION_HINT"] = hint
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = str(self.threads)
        if self.options.num_streams is not None:
            config["NUM_STREAMS"] = self.options.num_streams.upper()
        return config

    def _static_shapes(self, model) -> None:
        shapes = {}
        for port in model.inputs:
            name = port.get_any_name()
            if name in self.settings.input_shapes:
                shapes[port] = self._ov.PartialShape(list(self.settings.input_shapes[name]))
                continue
            partial = port.get_partial_shape()
            if partial.rank.is_dynamic or partial.is_static:
                continue
            dims = [d for d in partial]
            if dims[0].is_dynamic:
                dims[0] = self._ov.Dimension(self.settings.batch_size)
            shapes[port] = self._ov.PartialShape(dims)
        if shapes:
            model.reshape(shapes)

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        device = self._device()
        self._config = self._compile_config()
        if self.options.cache_dir is not None:
            self._core.set_property({"CACHE_DIR": self.options.cache_dir})
        try:
            model = self._core.read_model(str(path))
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError for any bad file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFileError("{}: OpenVINO cannot read it: {}".format(path, first)) from None
        declared = [self._tensor(p) for p in model.inputs]
        self._static_shapes(model)
        self._compiled = self._core.compile_model(model, device, self._config)
        self._request = self._compiled.create_infer_request()
        self._shares = "share_inputs" in inspect.signature(self._request.infer).parameters
        self._precision = self._runtime_precision()
        outputs = [self._tensor(p) for p in model.outputs]
        return declared, outputs

    def _runtime_precision(self) -> Tuple[Optional[str], Optional[str]]:
        layers = []
        for op in self._compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "layerType" in info and "runtimePrecision" in info:
                layers.append((_text(info["layerType"]), _text(info["runtimePrecision"])))
        precision, detail = runtime_precision(layers)
        if self._base() == "MYRIAD":  # no precision hint there; the device says what it computes in
            key, value = "OPTIMIZATION_CAPABILITIES", self._core.get_property("MYRIAD", "OPTIMIZATION_CAPABILITIES")
            value = ", ".join(value) if isinstance(value, (list, tuple)) else value
        else:
            key, value = "INFERENCE_PRECISION_HINT", self._compiled.get_property("INFERENCE_PRECISION_HINT")
        return precision, "{}; {} {}".format(detail, key, _text(value))

    def _tensor(self, port) -> TensorInfo:
        shape = [d.get_length() if d.is_static else "?" for d in port.get_partial_shape()]
        try:
            dtype = np.dtype(port.get_element_type().to_dtype()).name
        except Exception:  # noqa: BLE001 - element types numpy lacks (bf16, i4)
            dtype = port.get_element_type().get_type_name()
        return TensorInfo(name=port.get_any_name(), dtype=dtype, shape=shape)

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        return self._precision

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        resolved["openvino"] = self._ov.get_version()
        try:
            resolved["FULL_DEVICE_NAME"] = str(self._core.get_property(self._base(), "FULL_DEVICE_NAME"))
        except Exception:  # noqa: BLE001 - AUTO/HETERO have no single device name
            pass
        for key in ("PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS"):
            try:
                resolved[key] = _text(self._compiled.get_property(key))
            except Exception:  # noqa: BLE001 - not every device reports every property
                pass
        return resolved

    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        # share_inputs avoids a copy per call (as benchmark_app's pre-set tensors do); outputs are
        # copied out, i.e. materialised on the host.
        if self._shares:
            results = self._request.infer(feeds, share_inputs=True, share_outputs=False)
        else:  # 2022.3: outputs are copied out as well
            results = self._request.infer(feeds)
        return list(results.values())

    def default_requests_in_flight(self) -> int:
        return int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        queue = self._ov.AsyncInferQueue(self._compiled, requests)
        for request in queue:
            for name, array in feeds.items():
                request.set_tensor(name, self._ov.Tensor(array, shared_memory=True))
        errors: List[BaseException] = []
        counts = {"started": 0, "called_back": 0}
        lock = threading.Lock()

        def callback(request, started: int) -> None:
            try:
                done(started, time.monotonic_ns())
            except BaseException as exc:  # noqa: BLE001 - surfaced in the caller's thread
                errors.append(exc)
            finally:
                with lock:
                    counts["called_back"] += 1

        queue.set_callback(callback)
        while keep_going() and not errors:
            queue.get_idle_request_id()  # blocks until a request is free: the clock starts when it is
            queue.start_async(userdata=time.monotonic_ns())
            counts["started"] += 1
        queue.wait_all()
        # wait_all() returns when the requests completed, possibly before their Python callbacks
        # ran to the end. Destroying the queue then joins its callback thread while this thread
        # holds the GIL the callback waits for: a deadlock. Let the callbacks finish first.
        deadline = time.monotonic() + 30
        while counts["called_back"] < counts["started"] and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.02)  # and the binding's own work after each callback returned
        # Kept until close(): its end joins the callback threads, which must be idle by then.
        self._queue = queue
        if errors:
            raise errors[0]

    def close(self) -> None:
        self._queue = None
        self._request = None
        self._compiled = None


def _openvino():
    """The API module: `openvino` (2023.1+), or `openvino.runtime` (2022.x, the MYRIAD line)."""
    module = importlib.import_module("openvino")
    return module if hasattr(module, "Core") else importlib.import_module("openvino.runtime")


def _text(value) -> str:
    """A property or rt_info value as text (2022.3 gives Type and OVAny objects where later
    versions give strings)."""
    for name in ("get_type_name", "astype"):
        method = getattr(value, name, None)
        if method is not None:
            return method() if name == "get_type_name" else method(str)
    return str(value)


def myriad_missing(core, version: str, available: List[str]) -> str:
    """Why MYRIAD is not listed: a release without the plugin, or no stick on the bus."""
    if not version.startswith(("2021.", "2022.")):
        return (
            "OpenVINO {} has no MYRIAD plugin (Intel dropped the Myriad X after 2022.3 LTS): run the "
            "vedliot/bench-myriad image, on OpenVINO 2022.3 (images/myriad)".format(version.split("-")[0])
        )
    try:
        registered = bool(core.get_versions("MYRIAD"))
    except Exception:  # noqa: BLE001 - "not registered": the PyPI wheel ships no MYRIAD plugin
        registered = False
    if not registered:
        return (
            "this OpenVINO {} has no MYRIAD plugin (the PyPI wheel ships none): use Intel's "
            "openvino/ubuntu20_runtime:2022.3 image, as vedliot/bench-myriad does".format(version.split("-")[0])
        )
    return (
        "no Myriad X device found (MYRIAD plugin present; available: {}): plug in the stick, install the "
        "97-myriad-usbboot udev rule on the host and give the container "
        "--device-cgroup-rule='c 189:* rmw' -v /dev/bus/usb:/dev/bus/usb".format(", ".join(available) or "none")
    )
