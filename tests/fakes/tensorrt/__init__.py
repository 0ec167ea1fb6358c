"""Double of NVIDIA's `tensorrt` Python module, one API generation at a time.

VEDLIOT_FAKE_TRT_VERSION picks the generation (default 10.3.0): 8.2 offers the binding API only,
8.5/8.6 both, 10.x named tensors only (build_engine, max_workspace_size and the binding calls are
gone), 11.x also loses the EXPLICIT_BATCH network flag and the FP16/INT8 builder flags (strongly
typed). Which name exists in which generation follows NVIDIA's published bindings:
tests/test_tensorrt_doubles.py checks every public name here against the names extracted from the
real wheels (tests/data/tensorrt-api/). The engine it "builds" is the ONNX file with a header
(version, GPU, flags); it executes on ONNX Runtime's CPU provider, reading and writing the
cuda-python double's device memory, and its inspector writes layer information in the format of
real `--exportLayerInfo` files (tests/data/trtexec/layerinfo-*).

VEDLIOT_FAKE_TRT_FP32_OPS (default "Softmax"): ONNX ops this "TensorRT" keeps in fp32 when FP16 is
allowed, so that an fp16 request can come back `mixed`, as real engines do.
"""

from __future__ import annotations

import enum
import json
import os

import fakegpu
import numpy as np

__version__ = os.environ.get("VEDLIOT_FAKE_TRT_VERSION", "10.3.0")
_V = tuple(int(x) for x in __version__.split(".")[:2])
_NAMED = _V >= (8, 5)
_BINDINGS = _V < (10, 0)
_FLAGS = _V < (11, 0)
_MAGIC = b"FAKETRT1"
_FP32_OPS = set(filter(None, os.environ.get("VEDLIOT_FAKE_TRT_FP32_OPS", "Softmax").split(",")))


class DataType(enum.IntEnum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    if _V >= (8, 5):
        UINT8 = 5
    if _V >= (10, 0):
        INT64 = 8


_NUMPY = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT8": np.int8,
    "INT32": np.int32,
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "INT64": np.int64,
}
_ONNX = {1: "FLOAT", 10: "HALF", 3: "INT8", 6: "INT32", 9: "BOOL", 2: "UINT8", 7: "INT64"}
_FROM_ONNX = {k: DataType[v] for k, v in _ONNX.items() if v in DataType.__members__}


def nptype(trt_type):
    return _NUMPY[DataType(trt_type).name]


class ILogger:
    class Severity(enum.IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    def __init__(self) -> None:
        pass

    def log(self, severity, msg) -> None:  # pragma: no cover - overridden
        pass


class Logger(ILogger):
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = ILogger.Severity

    def __init__(self, min_severity=ILogger.Severity.WARNING) -> None:
        super().__init__()
        self.min_severity = min_severity

    def log(self, severity, msg) -> None:
        pass


class NetworkDefinitionCreationFlag(enum.IntEnum):
    if _FLAGS:
        EXPLICIT_BATCH = 0
    if _V >= (9, 0):
        STRONGLY_TYPED = 1


class BuilderFlag(enum.IntEnum):
    if _FLAGS:
        FP16 = 0
        INT8 = 1
    TF32 = 7


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0


class ProfilingVerbosity(enum.IntEnum):
    LAYER_NAMES_ONLY = 0
    NONE = 1
    DETAILED = 2


class LayerInformationFormat(enum.IntEnum):
    ONELINE = 0
    JSON = 1


if _NAMED:

    class TensorIOMode(enum.IntEnum):
        NONE = 0
        INPUT = 1
        OUTPUT = 2


def _log(logger, message: str) -> None:
    logger.log(ILogger.Severity.ERROR, message)


# -- building ---------------------------------------------------------------------------------------


class _Tensor:
    def __init__(self, name: str, shape, dtype) -> None:
        self.name, self.shape, self.dtype = name, tuple(shape), dtype


class INetworkDefinition:
    def __init__(self, flags: int) -> None:
        self.flags = flags
        self.inputs: list[_Tensor] = []
        self.outputs: list[_Tensor] = []
        self.onnx: bytes = b""
        self.ops: list[str] = []

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    @property
    def num_outputs(self) -> int:
        return len(self.outputs)

    def get_input(self, index: int) -> _Tensor:
        return self.inputs[index]

    def get_output(self, index: int) -> _Tensor:
        return self.outputs[index]


class _ParserError:
    def __init__(self, node: int, desc: str) -> None:
        self._node, self._desc = node, desc

    def desc(self) -> str:
        return self._desc

    def node(self) -> int:
        return self._node


class OnnxParser:
    def __init__(self, network: INetworkDefinition, logger) -> None:
        self.network, self.logger = network, logger
        self.errors: list[_ParserError] = []

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    def get_error(self, index: int) -> _ParserError:
        return self.errors[index]

    def parse(self, model: bytes, path=None) -> bool:
        import onnx

        try:
            proto = onnx.load_from_string(model)
        except Exception:  # noqa: BLE001 - any protobuf failure is a parse failure
            self.errors.append(_ParserError(-1, "Failed to parse ONNX model from file"))
            return False
        for index, node in enumerate(proto.graph.node):
            if node.domain not in ("", "ai.onnx"):
                self.errors.append(
                    _ParserError(
                        index,
                        "In node {} with name: {} and operator: {} "
                        '(checkFallbackPluginImporter): INVALID_NODE: creator && "Plugin not '
                        'found, are the plugin name, version, and namespace correct?"'.format(
                            index, node.name, node.op_type
                        ),
                    )
                )
                return False
        constants = {i.name for i in proto.graph.initializer}
        net = self.network
        for value in proto.graph.input:
            if value.name not in constants:
                net.inputs.append(_Tensor(value.name, _dims(value), _FROM_ONNX[value.type.tensor_type.elem_type]))
        for value in proto.graph.output:
            net.outputs.append(_Tensor(value.name, _dims(value), _FROM_ONNX[value.type.tensor_type.elem_type]))
        net.onnx, net.ops = model, [n.op_type for n in proto.graph.node]
        return True


def _dims(value) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]


class IOptimizationProfile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def set_shape(self, input: str, min, opt, max) -> None:
        self.shapes[input] = (list(min), list(opt), list(max))


class IBuilderConfig:
    def __init__(self) -> None:
        self.flags: set[int] = set()
        self.profiles: list[IOptimizationProfile] = []
        self.profiling_verbosity = ProfilingVerbosity.LAYER_NAMES_ONLY
        self.pool: dict[int, int] = {}

    def set_flag(self, flag) -> None:
        self.flags.add(int(flag))

    def get_flag(self, flag) -> bool:
        return int(flag) in self.flags

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def set_memory_pool_limit(self, pool_type, pool_size: int) -> None:
        self.pool[int(pool_type)] = pool_size


if _BINDINGS:
    IBuilderConfig.max_workspace_size = 0


class Builder:
    def __init__(self, logger) -> None:
        self.logger = logger
        if fakegpu.FAILURE:
            _log(logger, "1: [stdArchiveReader.cpp::StdArchiveReader::32] CUDA initialization failure with error: 35")

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        return INetworkDefinition(flags)

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig()

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig):
        if any(d < 0 for t in network.inputs for d in t.shape) and not config.profiles:
            _log(
                self.logger,
                "4: [network.cpp::validate::3062] Error Code 4: Internal Error (Network has dynamic "
                "or shape inputs, but no optimization profile has been defined.)",
            )
            return None
        header = {
            "version": __version__,
            "cc": [fakegpu.MAJOR, fakegpu.MINOR],
            "flags": sorted(config.flags),
            "detailed": config.profiling_verbosity == ProfilingVerbosity.DETAILED,
            "ops": network.ops,
            "profile": config.profiles[0].shapes if config.profiles else {},
            "inputs": [(t.name, t.shape, int(t.dtype)) for t in network.inputs],
            "outputs": [(t.name, t.shape, int(t.dtype)) for t in network.outputs],
        }
        return _MAGIC + json.dumps(header).encode() + b"\n" + network.onnx


if _BINDINGS:

    def _build_engine(self, network, config):
        plan = self.build_serialized_network(network, config)
        return None if plan is None else Runtime(self.logger).deserialize_cuda_engine(plan)

    Builder.build_engine = _build_engine

if _FLAGS:
    Builder.platform_has_fast_fp16 = property(lambda self: fakegpu.MAJOR >= 6)
    Builder.platform_has_fast_int8 = property(lambda self: (fakegpu.MAJOR, fakegpu.MINOR) >= (6, 1))


from tensorrt._runtime import ICudaEngine, IExecutionContext, Runtime  # noqa: E402, F401
