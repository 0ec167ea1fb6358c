"""The double's runtime half: deserialising, engines, execution contexts, the engine inspector.
Error texts are the ones real TensorRT logs (quoted in user reports of 8.x and 10.x)."""

from __future__ import annotations

import json

import fakegpu
import numpy as np

import tensorrt as trt


class Runtime:
    def __init__(self, logger) -> None:
        self.logger = logger

    def deserialize_cuda_engine(self, serialized_engine):
        data = bytes(serialized_engine)
        if not data.startswith(trt._MAGIC):
            trt._log(
                self.logger,
                "1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: Serialization "
                "(Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not match)",
            )
            return None
        head, onnx_bytes = data[len(trt._MAGIC) :].split(b"\n", 1)
        header = json.loads(head)
        if header["version"] != trt.__version__:
            trt._log(
                self.logger,
                "6: The engine plan file is not compatible with this version of TensorRT, "
                "expecting library version {} got {}, please rebuild.".format(trt.__version__, header["version"]),
            )
            return None
        if header["cc"] != [fakegpu.MAJOR, fakegpu.MINOR]:
            trt._log(
                self.logger,
                "6: The engine plan file is generated on an incompatible device, expecting "
                "compute {}.{} got compute {}.{}, please rebuild.".format(fakegpu.MAJOR, fakegpu.MINOR, *header["cc"]),
            )
            return None
        return ICudaEngine(header, onnx_bytes)


class ICudaEngine:
    def __init__(self, header: dict, onnx_bytes: bytes) -> None:
        import onnxruntime

        self.header = header
        self.io = [(n, tuple(s), trt.DataType(d), True) for n, s, d in header["inputs"]]
        self.io += [(n, tuple(s), trt.DataType(d), False) for n, s, d in header["outputs"]]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.device_memory_size = 1 << 20

    def create_execution_context(self):
        return IExecutionContext(self)

    def create_engine_inspector(self):
        return EngineInspector(self)

    def _index(self, name: str) -> int:
        return [n for n, *_ in self.io].index(name)


if trt._NAMED:

    def _num_io_tensors(self):
        return len(self.io)

    ICudaEngine.num_io_tensors = property(_num_io_tensors)
    ICudaEngine.get_tensor_name = lambda self, index: self.io[index][0]
    ICudaEngine.get_tensor_mode = lambda self, name: (
        trt.TensorIOMode.INPUT if self.io[self._index(name)][3] else trt.TensorIOMode.OUTPUT
    )
    ICudaEngine.get_tensor_shape = lambda self, name: self.io[self._index(name)][1]
    ICudaEngine.get_tensor_dtype = lambda self, name: self.io[self._index(name)][2]

if trt._BINDINGS:
    ICudaEngine.num_bindings = property(lambda self: len(self.io))
    ICudaEngine.get_binding_name = lambda self, index: self.io[index][0]
    ICudaEngine.binding_is_input = lambda self, index: self.io[index][3]
    ICudaEngine.get_binding_shape = lambda self, index: self.io[index][1]
    ICudaEngine.get_binding_dtype = lambda self, index: self.io[index][2]


class IExecutionContext:
    def __init__(self, engine: ICudaEngine) -> None:
        self.engine = engine
        self.shapes = {n: tuple(s) for n, s, *_ in engine.io}
        self.addresses: dict[str, int] = {}

    def _set_shape(self, name: str, shape) -> bool:
        profile = self.engine.header["profile"].get(name)
        if profile is not None:
            low, _, high = profile
            if len(shape) != len(low) or any(not lo <= d <= hi for d, lo, hi in zip(shape, low, high, strict=False)):
                return False
        self.shapes[name] = tuple(shape)
        return True

    def _output_shape(self, name: str) -> tuple:
        declared = self.shapes[name]
        batch = next((self.shapes[n][0] for n, _, _, is_input in self.engine.io if is_input), 1)
        return tuple(batch if (i == 0 and d < 0) else d for i, d in enumerate(declared))

    def _run(self, addresses: dict[str, int]) -> bool:
        feeds = {}
        for name, _, dtype, is_input in self.engine.io:
            if not is_input:
                continue
            shape = self.shapes[name]
            if any(d < 0 for d in shape) or name not in addresses:
                return False
            size = int(np.prod(shape)) * np.dtype(trt.nptype(dtype)).itemsize
            raw = bytes(fakegpu.buffer(addresses[name])[:size])
            feeds[name] = np.frombuffer(raw, dtype=trt.nptype(dtype)).reshape(shape)
        outputs = self.engine.session.run(None, feeds)
        for (name, *_), value in zip([io for io in self.engine.io if not io[3]], outputs, strict=False):
            data = np.ascontiguousarray(value).tobytes()
            target = fakegpu.buffer(addresses[name])
            target[: len(data)] = data
        return True


if trt._NAMED:

    def _set_input_shape(self, name, shape):
        return self._set_shape(name, shape)

    def _get_tensor_shape(self, name):
        return self._output_shape(name) if not self.engine.io[self.engine._index(name)][3] else self.shapes[name]

    def _set_tensor_address(self, name, memory):
        self.addresses[name] = int(memory)
        return True

    def _execute_async_v3(self, stream_handle):
        return self._run(self.addresses)

    IExecutionContext.set_input_shape = _set_input_shape
    IExecutionContext.get_tensor_shape = _get_tensor_shape
    IExecutionContext.set_tensor_address = _set_tensor_address
    IExecutionContext.execute_async_v3 = _execute_async_v3

if trt._BINDINGS:

    def _set_binding_shape(self, binding, shape):
        return self._set_shape(self.engine.io[binding][0], shape)

    def _get_binding_shape(self, binding):
        name, _, _, is_input = self.engine.io[binding]
        return self.shapes[name] if is_input else self._output_shape(name)

    def _execute_async_v2(self, bindings, stream_handle, input_consumed=None):
        return self._run({name: int(ptr) for (name, *_), ptr in zip(self.engine.io, bindings, strict=False)})

    def _execute_v2(self, bindings):
        return self._execute_async_v2(bindings, 0)

    IExecutionContext.set_binding_shape = _set_binding_shape
    IExecutionContext.get_binding_shape = _get_binding_shape
    IExecutionContext.execute_async_v2 = _execute_async_v2
    IExecutionContext.execute_v2 = _execute_v2


class EngineInspector:
    """Layer information as --exportLayerInfo writes it: {"Layers": [...], "Bindings": [...]}, each
    layer with Name, LayerType and Inputs/Outputs whose "Format/Datatype" uses 8.x's long names
    ("Row major linear FP32", "Channel major FP16 format where channel % 8 == 0") or, from 10.x,
    the short ones of Myelin layers ("Float", "Half", "Int8"); without DETAILED verbosity, names only."""

    def __init__(self, engine: ICudaEngine) -> None:
        self.engine = engine

    def get_engine_information(self, format):
        header = self.engine.header
        names = [n for n, *_ in self.engine.io]
        if not header["detailed"]:
            return json.dumps({"Layers": header["ops"], "Bindings": names})
        flags = set(header["flags"])
        int8 = int(getattr(trt.BuilderFlag, "INT8", -1)) in flags or "QuantizeLinear" in header["ops"]
        fp16 = int(getattr(trt.BuilderFlag, "FP16", -1)) in flags
        layers = [
            _layer(i, op, int8, fp16)
            for i, op in enumerate(header["ops"])
            if op not in ("QuantizeLinear", "DequantizeLinear")
        ]
        return json.dumps({"Layers": layers, "Bindings": names})


def _layer(index: int, op: str, int8: bool, fp16: bool) -> dict:
    kind = (
        "fp32"
        if op in trt._FP32_OPS
        else ("int8" if int8 and op in ("Conv", "Gemm", "MatMul") else "fp16" if fp16 else "fp32")
    )
    long_names = trt._V < (10, 0)
    text = {
        "fp32": "Row major linear FP32" if long_names else "Float",
        "fp16": "Channel major FP16 format where channel % 8 == 0" if long_names else "Half",
        "int8": "Thirty-two wide channel vectorized row major Int8 format" if long_names else "Int8",
    }[kind]
    tensor = {"Name": "t{}".format(index), "Location": "Device", "Dimensions": [1], "Format/Datatype": text}
    return {
        "Name": "node_{}_{}".format(op.lower(), index),
        "LayerType": "Cask" + op,
        "Inputs": [tensor],
        "Outputs": [dict(tensor, Name="t{}".format(index + 1))],
    }
