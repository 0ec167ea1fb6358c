"""TensorRT backend: an engine built here from ONNX (cached) or a prebuilt .engine/.plan, run
through NVIDIA's Python API of either generation, with cuda-python for memory and streams.

- Named tensors (8.5 and later, the only API from 10.0): set_input_shape, set_tensor_address,
  execute_async_v3. Bindings (8.2 to 8.4): set_binding_shape, execute_async_v2. The generation is
  chosen by what the engine object offers.
- predict() copies the inputs in, executes and copies the outputs out on a non-default stream, then
  synchronises it: what trtexec 8.x/10.x reports as latency. transfers=false times execution
  alone (trtexec 11's default): the inputs are uploaded and the outputs read back only when the
  inputs change, which a timed loop never does.
- Throughput mode gives each request in flight its own execution context, stream and buffers (what
  trtexec --infStreams does), driven by one thread each.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from vedliot_runner import cuda_rt, trt_engine
from vedliot_runner.backends.base import Backend, BackendSettings, Feeds, OnComplete, run_threads
from vedliot_runner.errors import ModelFileError, RuntimeFailure, UnsupportedError
from vedliot_runner.options import option
from vedliot_runner.record import Scalar, TensorInfo


@dataclasses.dataclass(frozen=True)
class TensorRtOptions:
    device: int = option(0, "GPU index", minimum=0, maximum=1024)
    transfers: bool = option(
        True, "time the host<->device copies with execution (trtexec 8/10 latency); false: execution alone"
    )
    streams: Optional[int] = option(
        None, "throughput mode: execution contexts, each with its own stream (default 2)", minimum=1, maximum=64
    )
    cache: Optional[str] = option(None, "engine cache directory (default $VEDLIOT_ENGINE_CACHE, else ~/.cache)")
    rebuild: bool = option(False, "build the engine even when the cache holds one")
    workspace_mb: Optional[int] = option(None, "builder workspace limit in MiB", minimum=1, maximum=1 << 20)


class TensorRtBackend(Backend):
    name = "tensorrt"
    Options = TensorRtOptions

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        import tensorrt

        self.trt = tensorrt
        try:
            runtime_module, self._cuda_python = cuda_rt.import_runtime()
        except ImportError:
            raise UnsupportedError(
                "backend 'tensorrt' needs NVIDIA's cuda-python: pip install 'vedliot-runner[tensorrt]'"
            ) from None
        self.cuda = cuda_rt.Cuda(runtime_module)
        self.includes_host_device_copies = self.options.transfers
        self.gpu: Optional[cuda_rt.Device] = None
        self.built: Optional[trt_engine.Built] = None
        self.engine: Any = None
        self.tensors: List[trt_engine.IoTensor] = []
        self.slots: List[_Slot] = []
        self._precision: Tuple[Optional[str], Optional[str]] = (None, None)
        self._free_before = 0
        self._peak = 0

    def version(self) -> Optional[str]:
        return self.trt.__version__

    def packages(self) -> Dict[str, Optional[str]]:
        found = {"tensorrt": self.trt.__version__, "cuda-python": self._cuda_python}
        if self.gpu is not None:
            found["cuda-runtime"] = cuda_rt.version_text(self.gpu.runtime_version)
            found["cuda-driver"] = cuda_rt.version_text(self.gpu.driver_version)
        return found

    def _open_gpu(self) -> cuda_rt.Device:
        try:
            return self.cuda.device(self.options.device)
        except cuda_rt.CudaError as exc:
            if exc.code == cuda_rt.INSUFFICIENT_DRIVER and self.cuda.driver_version() > 0:
                raise UnsupportedError(
                    "the NVIDIA driver is older than this CUDA runtime ({}): update the driver, or use the "
                    "image of an older CUDA".format(exc)
                ) from None
            raise UnsupportedError(
                "no usable NVIDIA GPU ({}); run the container with --gpus all (Jetson: --runtime nvidia)".format(exc)
            ) from None

    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        if not path.is_file():
            raise ModelFileError("{}: no such file".format(path))
        self.gpu = self._open_gpu()
        self._free_before = self.cuda.free_memory()
        logger = trt_engine.Logger(self.trt)
        self.built = self._plan(path, logger)
        runtime = self.trt.Runtime(logger)
        self.engine = trt_engine.deserialize(self.trt, runtime, logger, self.built.plan, str(self.built.path or path))
        self._runtime = runtime  # the engine must not outlive its runtime
        self.tensors = trt_engine.io_tensors(self.trt, self.engine)
        counts = trt_engine.layer_precisions(trt_engine.inspect(self.trt, self.engine))
        self._precision = trt_engine.effective_precision(counts, self.settings.precision)
        self.slots = [self._slot()]
        return (
            [self._info(t, self.slots[0]) for t in self.tensors if t.is_input],
            [self._info(t, self.slots[0]) for t in self.tensors if not t.is_input],
        )

    def _plan(self, path: Path, logger: Any) -> trt_engine.Built:
        if path.suffix.lower() in trt_engine.ENGINE_SUFFIXES:
            return trt_engine.Built(path.read_bytes(), "given", None, None, path)
        if path.suffix.lower() != ".onnx":
            raise ModelFileError("{}: backend 'tensorrt' takes an .onnx file or an .engine/.plan".format(path))
        assert self.gpu is not None
        request = trt_engine.BuildRequest(
            model=path,
            precision=self.settings.precision,
            batch=self.settings.batch_size,
            shapes={k: list(v) for k, v in self.settings.input_shapes.items()},
            workspace_mb=self.options.workspace_mb,
            gpu=self.gpu.name,
            compute_capability=self.gpu.compute_capability,
        )
        cache = Path(self.options.cache) if self.options.cache else trt_engine.default_cache()
        return trt_engine.engine_for(self.trt, logger, request, cache, self.options.rebuild)

    def _slot(self) -> _Slot:
        try:
            slot = _Slot(self, self.engine.create_execution_context(), self.cuda.stream())
        except cuda_rt.CudaError as exc:
            if exc.code == cuda_rt.MEMORY_ALLOCATION:
                raise RuntimeFailure("out of device memory for the engine's buffers ({})".format(exc)) from None
            raise RuntimeFailure(str(exc)) from None
        self._peak = max(self._peak, self._free_before - self.cuda.free_memory())
        return slot

    def _info(self, tensor: trt_engine.IoTensor, slot: _Slot) -> TensorInfo:
        shape = [d if d >= 0 else "?" for d in tensor.shape]
        if not tensor.is_input:
            shape = list(slot.shapes[tensor.name])
        return TensorInfo(name=tensor.name, dtype=np.dtype(self.trt.nptype(tensor.dtype)).name, shape=shape)

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        return self._precision

    def resolved_options(self) -> Dict[str, Scalar]:
        resolved = super().resolved_options()
        if self.gpu is not None:
            resolved.update(gpu=self.gpu.name, compute_capability=self.gpu.compute_capability)
        if self.built is not None:
            resolved["engine"] = self.built.origin
            resolved["engine_build_s"] = round(self.built.build_s, 3) if self.built.build_s is not None else None
            resolved["engine_key"] = self.built.key
        resolved["api"] = "named tensors" if self.tensors and self.tensors[0].binding is None else "bindings"
        return resolved

    def device_memory_peak_bytes(self) -> Optional[int]:
        return self._peak or None

    def default_requests_in_flight(self) -> int:
        return self.options.streams or 2

    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        return self.slots[0].run(feeds)

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going, done: OnComplete) -> None:
        while len(self.slots) < requests:
            self.slots.append(self._slot())
        run_threads([slot.run for slot in self.slots[:requests]], feeds, keep_going, done)


class _Slot:
    """One execution context with its own stream and device buffers."""

    def __init__(self, backend: TensorRtBackend, context: Any, stream: Any) -> None:
        if context is None:
            raise RuntimeFailure("TensorRT could not create an execution context (out of device memory?)")
        self.backend, self.context, self.stream = backend, context, stream
        self.handle = cuda_rt.stream_handle(stream)
        self.cuda = backend.cuda
        self.named = backend.tensors[0].binding is None
        self.inputs = [t for t in backend.tensors if t.is_input]
        self.outputs = [t for t in backend.tensors if not t.is_input]
        self.dtypes = {t.name: np.dtype(backend.trt.nptype(t.dtype)) for t in backend.tensors}
        self.shapes: Dict[str, Tuple[int, ...]] = {}
        self.pointers: Dict[str, int] = {}
        self.last_feeds: Optional[Dict[str, int]] = None
        self.last_outputs: List[np.ndarray] = []
        self._shape_inputs(self._batch_shapes())
        for tensor in backend.tensors:
            size = int(np.prod(self.shapes[tensor.name])) * self.dtypes[tensor.name].itemsize
            self.pointers[tensor.name] = self.cuda.malloc(size)
            if self.named:
                context.set_tensor_address(tensor.name, self.pointers[tensor.name])
        self.bindings = [self.pointers[t.name] for t in sorted(backend.tensors, key=lambda t: t.binding or 0)]

    def _batch_shapes(self) -> Dict[str, Tuple[int, ...]]:
        settings = self.backend.settings
        shapes = {}
        for tensor in self.inputs:
            given = settings.input_shapes.get(tensor.name)
            shape = list(given) if given else [settings.batch_size if d < 0 else d for d in tensor.shape]
            shapes[tensor.name] = tuple(shape)
        return shapes

    def _shape_inputs(self, shapes: Dict[str, Tuple[int, ...]]) -> None:
        """Set the inputs' shapes on the context and read the outputs' shapes back."""
        for tensor in self.inputs:
            shape = shapes[tensor.name]
            if shape != self.shapes.get(tensor.name) and any(d < 0 for d in tensor.shape):
                ok = (
                    self.context.set_input_shape(tensor.name, shape)
                    if self.named
                    else self.context.set_binding_shape(tensor.binding, shape)
                )
                if ok is False:
                    raise RuntimeFailure(
                        "input {}: shape {} is outside the engine's profile".format(tensor.name, shape)
                    )
            self.shapes[tensor.name] = tuple(shape)
        for tensor in self.outputs:
            shape = (
                self.context.get_tensor_shape(tensor.name)
                if self.named
                else self.context.get_binding_shape(tensor.binding)
            )
            self.shapes[tensor.name] = tuple(shape)

    def run(self, feeds: Feeds) -> List[np.ndarray]:
        arrays = []
        for tensor in self.inputs:
            array = np.ascontiguousarray(feeds[tensor.name], dtype=self.dtypes[tensor.name])
            if array.shape != self.shapes[tensor.name]:
                raise RuntimeFailure(
                    "input {}: shape {} but the engine was set up for {}".format(
                        tensor.name, array.shape, self.shapes[tensor.name]
                    )
                )
            arrays.append(array)
        identity = {name: id(array) for name, array in feeds.items()}
        copy = self.backend.options.transfers or identity != self.last_feeds
        try:
            return self._execute(arrays, copy, identity)
        except cuda_rt.CudaError as exc:
            raise RuntimeFailure(str(exc)) from None

    def _execute(self, arrays: List[np.ndarray], copy: bool, identity: Dict[str, int]) -> List[np.ndarray]:
        if copy:
            for tensor, array in zip(self.inputs, arrays):
                self.cuda.to_device(self.pointers[tensor.name], array, self.stream)
        if self.named:
            ok = self.context.execute_async_v3(self.handle)
        else:
            ok = self.context.execute_async_v2(self.bindings, self.handle)
        if ok is False:
            raise RuntimeFailure("TensorRT could not enqueue the inference")
        if not copy:
            self.cuda.synchronize(self.stream)
            return self.last_outputs
        outputs = [np.empty(self.shapes[t.name], dtype=self.dtypes[t.name]) for t in self.outputs]
        for tensor, out in zip(self.outputs, outputs):
            self.cuda.to_host(out, self.pointers[tensor.name], self.stream)
        self.cuda.synchronize(self.stream)
        self.last_feeds, self.last_outputs = identity, outputs
        return outputs
