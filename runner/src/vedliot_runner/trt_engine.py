"""TensorRT engines: built from ONNX on the GPU that runs them, cached on disk, inspected.

Everything here follows what the installed `tensorrt` module offers, not its version number:
- the explicit-batch network flag where it exists (absent in TensorRT 11, where every network is
  explicit and strongly typed);
- FP16/INT8 builder flags where they exist (TensorRT 11 removed them: precision comes from the
  ONNX file, so the zoo's fp16 and QDQ int8 files are what make fp16 and int8 there);
- the workspace through set_memory_pool_limit (8.4 and later) or max_workspace_size (before);
- detailed profiling verbosity where it exists, so the engine inspector names every layer's
  formats: the effective precision is read from the built engine, never assumed from the request.

An engine only runs on the GPU model and TensorRT version that built it, so the cache key holds
both, with the model's sha256, the precision and the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import ModelFileError, RuntimeFailure, UnsupportedError

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
CACHE_ENV = "VEDLIOT_ENGINE_CACHE"


def default_cache() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vedliot" / "engines"


@dataclasses.dataclass(frozen=True)
class BuildRequest:
    model: Path
    precision: str
    batch: int
    #: shapes for inputs whose non-batch dimensions are symbolic
    shapes: Dict[str, List[int]]
    workspace_mb: Optional[int]
    gpu: str
    compute_capability: str


@dataclasses.dataclass(frozen=True)
class Built:
    plan: bytes
    #: "built" or "reused" (from the cache) or "given" (a prebuilt .engine/.plan)
    origin: str
    build_s: Optional[float]
    key: Optional[str]
    path: Optional[Path]


class Logger:
    """A TensorRT ILogger that keeps the errors, so a failure can say what TensorRT said."""

    def __new__(cls, trt: Any) -> Any:
        class _Logger(trt.ILogger):
            def __init__(self) -> None:
                trt.ILogger.__init__(self)
                self.errors: List[str] = []

            def log(self, severity: Any, msg: str) -> None:
                if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                    self.errors.append(str(msg).strip())

        return _Logger()


def cache_key(request: BuildRequest, trt_version: str, digest: str) -> str:
    parts = [
        digest,
        request.precision,
        "b{}".format(request.batch),
        "trt" + trt_version,
        request.gpu,
        "sm" + request.compute_capability,
        json.dumps(request.shapes, sort_keys=True),
        "ws{}".format(request.workspace_mb),
    ]
    label = re.sub(
        r"[^A-Za-z0-9.]+",
        "-",
        "{}-{}-b{}-trt{}-{}".format(request.model.stem, request.precision, request.batch, trt_version, request.gpu),
    )
    return "{}-{}".format(label[:100], hashlib.sha256("|".join(parts).encode()).hexdigest()[:16])


def engine_for(trt: Any, logger: Any, request: BuildRequest, cache: Path, rebuild: bool) -> Built:
    """A serialized engine for `request`: the cached one, or one built now and cached."""
    key = cache_key(request, trt.__version__, sha256_of(request.model))
    plan_path = cache / (key + ".plan")
    if plan_path.is_file() and not rebuild:
        meta = _read_meta(plan_path.with_suffix(".json"))
        return Built(plan_path.read_bytes(), "reused", meta.get("build_s"), key, plan_path)
    start = time.monotonic()
    plan = build(trt, logger, request)
    seconds = time.monotonic() - start
    _store(cache, plan_path, plan, {"build_s": seconds, "model": str(request.model), "trt": trt.__version__})
    return Built(plan, "built", seconds, key, plan_path if plan_path.is_file() else None)


def _read_meta(path: Path) -> Dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _store(cache: Path, plan_path: Path, plan: bytes, meta: Dict[str, Any]) -> None:
    """Write the plan atomically; a cache that cannot be written costs a rebuild next time, no more."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = plan_path.with_suffix(".plan.partial")
        partial.write_bytes(plan)
        os.replace(str(partial), str(plan_path))
        plan_path.with_suffix(".json").write_text(json.dumps(meta))
    except OSError:
        pass


def build(trt: Any, logger: Any, request: BuildRequest) -> bytes:
    builder = trt.Builder(logger)
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if hasattr(creation, "EXPLICIT_BATCH"):
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(request.model.read_bytes()):
        errors = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
        raise UnsupportedError(
            "{}: TensorRT's ONNX parser refuses it: {}".format(request.model, "; ".join(errors) or "no reason given")
        )
    config = builder.create_builder_config()
    _workspace(trt, config, request.workspace_mb)
    _precision_flags(trt, builder, config, request.precision)
    if hasattr(trt, "ProfilingVerbosity"):
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    profile = _profile(builder, network, request)
    if profile is not None:
        config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise _build_failure(request, logger.errors)
    return bytes(plan)


def _workspace(trt: Any, config: Any, megabytes: Optional[int]) -> None:
    if megabytes is None:
        return
    size = megabytes << 20
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, size)
    else:
        config.max_workspace_size = size


def _precision_flags(trt: Any, builder: Any, config: Any, precision: str) -> None:
    flags = trt.BuilderFlag
    wanted = {"fp16": ("FP16",), "int8": ("INT8",)}.get(precision, ())
    for name in wanted:
        if hasattr(flags, name):  # absent in TensorRT 11: the ONNX file's types decide
            config.set_flag(getattr(flags, name))


def _profile(builder: Any, network: Any, request: BuildRequest) -> Any:
    """An optimisation profile for inputs with symbolic dimensions (batch 1..requested)."""
    dynamic = []
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = list(tensor.shape)
        if any(d < 0 for d in shape):
            dynamic.append((tensor.name, shape))
    if not dynamic:
        for i in range(network.num_inputs):
            shape = list(network.get_input(i).shape)
            if shape and shape[0] != request.batch:
                raise UnsupportedError(
                    "{}: the model's batch is fixed at {}; batch {} needs a model with a dynamic batch "
                    "dimension".format(request.model, shape[0], request.batch)
                )
        return None
    profile = builder.create_optimization_profile()
    for name, shape in dynamic:
        opt = _concrete(name, shape, request)
        low = [1 if (i == 0 and shape[0] < 0) else d for i, d in enumerate(opt)]
        profile.set_shape(name, low, opt, opt)
    return profile


def _concrete(name: str, shape: List[int], request: BuildRequest) -> List[int]:
    given = request.shapes.get(name)
    if given is not None:
        return list(given)
    rest = shape[1:]
    if any(d < 0 for d in rest):
        raise UnsupportedError(
            "input {} has symbolic dimensions besides the batch ({}); give them with --input-shape {}=...".format(
                name, shape, name
            )
        )
    return [request.batch, *rest]


def _build_failure(request: BuildRequest, errors: List[str]) -> Exception:
    said = errors[-1] if errors else "no error message"
    if any("out of memory" in e.lower() or "outofmemory" in e.lower().replace(" ", "") for e in errors):
        return RuntimeFailure("out of device memory while building the engine of {}: {}".format(request.model, said))
    return RuntimeFailure("TensorRT could not build an engine from {}: {}".format(request.model, said))


def deserialize(trt: Any, runtime: Any, logger: Any, plan: bytes, source: str) -> Any:
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        said = logger.errors[-1] if logger.errors else "TensorRT gave no reason"
        raise ModelFileError(
            "{}: TensorRT {} cannot load this engine ({}); engines only run on the GPU model and TensorRT "
            "version that built them: rebuild it here from the ONNX file".format(source, trt.__version__, said)
        )
    return engine


# -- what the engine holds ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IoTensor:
    name: str
    is_input: bool
    shape: Tuple[int, ...]
    dtype: Any
    #: index in the bindings array (binding API) or None (named tensors)
    binding: Optional[int] = None


def io_tensors(trt: Any, engine: Any) -> List[IoTensor]:
    """The engine's inputs and outputs, through whichever API generation this TensorRT offers."""
    if hasattr(engine, "num_io_tensors"):  # 8.5 and later; the only API from 10.0
        out = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            out.append(IoTensor(name, is_input, tuple(engine.get_tensor_shape(name)), engine.get_tensor_dtype(name)))
        return out
    return [
        IoTensor(
            engine.get_binding_name(i),
            bool(engine.binding_is_input(i)),
            tuple(engine.get_binding_shape(i)),
            engine.get_binding_dtype(i),
            i,
        )
        for i in range(engine.num_bindings)
    ]


_FORMAT_PRECISION = (
    (re.compile(r"\bfp8\b", re.I), "fp8"),
    (re.compile(r"\bint8\b", re.I), "int8"),
    (re.compile(r"\b(fp16|half)\b", re.I), "fp16"),
    (re.compile(r"\b(bf16|bfloat16)\b", re.I), "bf16"),
    (re.compile(r"\b(fp32|float)\b", re.I), "fp32"),
)


def layer_precisions(info_json: str) -> Dict[str, int]:
    """Layers per precision, from the engine inspector's JSON (what `trtexec --exportLayerInfo`
    writes): a layer counts at the narrowest format among its inputs and outputs ("Row major linear
    FP16 format", "Half", "Int8", "Float", ...), so an int8 convolution that writes fp32 is int8.
    Reformat layers only move data between formats and are not counted."""
    try:
        layers = json.loads(info_json).get("Layers", [])
    except (ValueError, AttributeError):
        return {}
    counts: Dict[str, int] = {}
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("LayerType") == "Reformat":
            continue
        tensors = [t for t in layer.get("Inputs", []) + layer.get("Outputs", []) if isinstance(t, dict)]
        kinds = {_precision_of(t.get("Format/Datatype", "")) for t in tensors}
        kinds.discard(None)
        if kinds:
            kind = sorted(kinds, key=["int8", "fp8", "fp16", "bf16", "fp32"].index)[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def _precision_of(text: str) -> Optional[str]:
    for pattern, name in _FORMAT_PRECISION:
        if pattern.search(text):
            return name
    return None


def effective_precision(counts: Dict[str, int], requested: str) -> Tuple[Optional[str], str]:
    """("fp16", detail) when one precision holds every counted layer, ("mixed", detail) otherwise."""
    if not counts:
        return None, "the engine inspector named no layer formats (built without detailed profiling verbosity)"
    detail = ", ".join("{} {}".format(n, k) for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    detail = "engine layers by format: " + detail
    if len(counts) == 1:
        return next(iter(counts)), detail
    return "mixed", detail + " (requested {})".format(requested)


def inspect(trt: Any, engine: Any) -> str:
    if not hasattr(engine, "create_engine_inspector"):
        return ""
    inspector = engine.create_engine_inspector()
    return str(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
