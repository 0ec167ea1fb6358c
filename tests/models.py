"""Small real ONNX models the tests build on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vedliot_runner.zoo import build_onnx, tinycnn


def tiny(path: Path) -> Path:
    """tinycnn: dynamic batch, float32, 3x32x32 -> 10 logits."""
    onnx.save(build_onnx(tinycnn, seed=1), str(path))
    return path


def static_batch(path: Path, batch: int = 1) -> Path:
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "static",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, 8, 8])],
        initializer=[w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def fp16(path: Path) -> Path:
    """A float16 MLP: fp16 inputs, weights and outputs."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float16), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((32, 8)).astype(np.float16), "w2")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fp16mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 8])],
        initializer=[w1, w2],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def qdq_int8(source: Path, path: Path) -> Path:
    """`source` quantized to QDQ with ONNX Runtime's static quantization, uint8 activations and
    int8 weights (ONNX Runtime's x86 default): unlike the zoo's symmetric int8 (zoo/quantize.py),
    so precision detection is tested on mixed-sign zero points too."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.batches = iter([{"input": rng.standard_normal((1, 3, 32, 32), dtype=np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        str(source),
        str(path),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    return path


def fails_at_run(path: Path) -> Path:
    """Loads fine (shape unknown until run time) but every run fails: 4*N elements into a 3x5 reshape."""
    shape = numpy_helper.from_array(np.array([3, 5], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        "fails",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])],
        initializer=[shape],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def two_symbolic(path: Path) -> Path:
    """An input with a symbolic dimension besides the batch (sequence length)."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "seq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "T", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "T", 4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path
