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


# A detector whose three YoloV4-format heads are constants (the input only sets the batch): one
# box of class DETECTOR_CLASS in every image, where DETECTOR_BOX says, in network-input pixels.
DETECTOR_SIZE = 32
DETECTOR_INFO = {
    "outputs": ["head8", "head16", "head32"],
    "strides": [8, 16, 32],
    "anchors": [[4, 4], [8, 8], [12, 12], [16, 16], [20, 20], [24, 24], [28, 28], [30, 30], [32, 32]],
    "masks": [[0, 1, 2], [3, 4, 5], [6, 7, 8]],
    "scale_x_y": [1.2, 1.1, 1.05],
}
DETECTOR_BOX = (8.0, 11.0, 16.0, 17.0)  # x1, y1, x2, y2: centre (12, 14), 8 x 6
DETECTOR_CLASS = 16  # COCO-80 index of "dog", category id 18


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def constant_detector(path: Path) -> Path:
    classes, fields = 80, 85
    x1, y1, x2, y2 = DETECTOR_BOX
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    stride, sxy, anchor = 8, DETECTOR_INFO["scale_x_y"][0], DETECTOR_INFO["anchors"][0]
    gx, gy = int(cx // stride), int(cy // stride)
    heads = []
    for s in DETECTOR_INFO["strides"]:
        grid = DETECTOR_SIZE // s
        heads.append(np.full((1, 3 * fields, grid, grid), -10.0, dtype=np.float32))
    # Anchor 0 of the stride-8 head, at cell (gx, gy): invert decode's formulas.
    cell = heads[0][0, 0:fields, gy, gx]
    cell[0] = _logit((cx / stride - gx + (sxy - 1) / 2) / sxy)
    cell[1] = _logit((cy / stride - gy + (sxy - 1) / 2) / sxy)
    cell[2] = np.log(w / anchor[0])
    cell[3] = np.log(h / anchor[1])
    cell[4] = 10.0
    cell[5 + DETECTOR_CLASS] = 10.0
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((1, 1, 1, 1), np.float32), "zero")]
    outputs = []
    for name, head in zip(DETECTOR_INFO["outputs"], heads, strict=True):
        inits.append(numpy_helper.from_array(head, name + "_const"))
        nodes.append(helper.make_node("Add", ["nothing", name + "_const"], [name]))
        grid = head.shape[-1]
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3 * fields, grid, grid]))
    assert classes == 80
    graph = helper.make_graph(
        nodes,
        "constant_detector",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, DETECTOR_SIZE, DETECTOR_SIZE])],
        outputs,
        initializer=inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _tflite(path: Path, batch: int | None) -> Path:
    """A small convolution as .tflite, converted by TensorFlow: NHWC float32 8x8x3 -> 8x8x4,
    with a dynamic batch (None) or a fixed one."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from vedliot_runner.quiet import native_output_captured

    weights = tf.constant(np.random.default_rng(3).standard_normal((3, 3, 3, 4)).astype(np.float32))
    spec = tf.TensorSpec([batch, 8, 8, 3], tf.float32, name="x")

    class Conv(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, x):
            return tf.nn.relu(tf.nn.conv2d(x, weights, 1, "SAME"))

    module = Conv()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.serve.get_concrete_function()], module)
    with native_output_captured():
        path.write_bytes(converter.convert())
    return path


def tflite_tiny(path: Path) -> Path:
    return _tflite(path, None)


def tflite_static(path: Path) -> Path:
    return _tflite(path, 1)


def scalar_input(path: Path) -> Path:
    """A model whose only input is a scalar (rank 0): it has no batch dimension."""
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        "scalar",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
        initializer=[one],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def no_inputs(path: Path) -> Path:
    """A model without inputs: a constant."""
    value = numpy_helper.from_array(np.arange(4, dtype=np.float32), "value")
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["y"], value=value)],
        "constant",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def string_input(path: Path) -> Path:
    """A model taking a string tensor, for which no synthetic input exists."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["text"], ["same"])],
        "strings",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])],
        [helper.make_tensor_value_info("same", TensorProto.STRING, ["N"])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def huge_static_input(path: Path) -> Path:
    """A static 1x3x100000x100000 float input: 120 GB of synthetic data, more than any test host has."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 100000, 100000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 100000, 100000])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def large(path: Path, megabytes: int = 400) -> Path:
    """A MatMul with a `megabytes` weight: a model whose run needs far more memory than tiny's."""
    side = int((megabytes * 1e6 / 4) ** 0.5)
    weight = numpy_helper.from_array(np.full((side, side), 0.001, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "large",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", side])],
        initializer=[weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def custom_op(path: Path) -> Path:
    """One node of an operator no runtime knows (domain com.example): what a vendor parser refuses."""
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Mystery", ["x"], ["y"], domain="com.example")],
            "custom",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        ),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )
    onnx.save(model, str(path))
    return path
