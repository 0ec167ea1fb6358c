"""ONNX Runtime's int8 form writes hard-swish and hard-sigmoid as Add, Clip and Mul (zoo/qdq_hard.py):
the same function in fp32, run in uint8 by ONNX Runtime's kernels (no float island left after its
optimizer), folded without an extra operator, and no less accurate than the float islands."""

from __future__ import annotations

import numpy as np
import pytest

from vedliot_runner.zoo import qdq_hard
from vedliot_runner.zoo.quantize import _quantize_static, quantize_qdq


def _model(rng: np.random.Generator):
    """Conv, hard-swish, depthwise conv, hard-swish, squeeze-excite with a hard-sigmoid gate (PyTorch's
    alpha 1/6), then a hard-sigmoid with ONNX's default alpha 0.2: MobileNetV3's activations in small."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def weight(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.4).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("HardSwish", ["c1"], ["h1"], name="hs1"),
        helper.make_node("Conv", ["h1", "w2"], ["c2"], pads=[1, 1, 1, 1], kernel_shape=[3, 3], group=8),
        helper.make_node("HardSwish", ["c2"], ["h2"], name="hs2"),
        helper.make_node("GlobalAveragePool", ["h2"], ["pooled"]),
        helper.make_node("Conv", ["pooled", "w3", "b3"], ["c3"], kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["c3"], ["gate"], name="gate", alpha=1.0 / 6.0, beta=0.5),
        helper.make_node("Mul", ["h2", "gate"], ["scaled"]),
        helper.make_node("Conv", ["scaled", "w4"], ["c4"], kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["c4"], ["h4"], name="default_alpha"),
        helper.make_node("Conv", ["h4", "w5"], ["output"], kernel_shape=[1, 1]),
    ]
    inits = [weight("w1", 8, 3, 3, 3), weight("b1", 8), weight("w2", 8, 1, 3, 3), weight("w3", 8, 8, 1, 1),
             weight("b3", 8), weight("w4", 4, 8, 1, 1), weight("w5", 2, 4, 1, 1)]  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "hard",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 3, 12, 12])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 2, 12, 12])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def _run(path, x, optimized=None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # the level where ONNX Runtime fuses QDQ groups into QLinear* kernels, without the NCHWc layout
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


@pytest.fixture
def files(tmp_path):
    import onnx

    rng = np.random.default_rng(3)
    fp32 = tmp_path / "hard_fp32.onnx"
    onnx.save(_model(rng), str(fp32))
    calibration = [rng.standard_normal((4, 3, 12, 12)).astype(np.float32) for _ in range(4)]
    return fp32, calibration, rng.standard_normal((16, 3, 12, 12)).astype(np.float32)


def test_the_decomposed_graph_computes_the_same_function(files, tmp_path):
    import onnx

    fp32, _, x = files
    decomposed = qdq_hard.decompose(onnx.load(str(fp32)))
    onnx.checker.check_model(decomposed)
    assert not {"HardSwish", "HardSigmoid"} & {node.op_type for node in decomposed.graph.node}
    assert len(qdq_hard.gate_scales(decomposed)) == 4
    onnx.save(decomposed, str(tmp_path / "decomposed.onnx"))
    np.testing.assert_allclose(_run(tmp_path / "decomposed.onnx", x), _run(fp32, x), rtol=1e-5, atol=1e-6)


def test_the_u8s8_file_runs_the_activations_in_uint8(files, tmp_path):
    import onnx

    fp32, calibration, x = files
    quantize_qdq(fp32, tmp_path / "u8s8.onnx", "input", iter(calibration), "u8s8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard_fp32.onnx", "u8s8.onnx"]  # the decomposed copy is gone
    _run(tmp_path / "u8s8.onnx", x, optimized=tmp_path / "optimized.onnx")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    # one QuantizeLinear at the input, one DequantizeLinear at the output; nothing in float between
    assert ops.count("QuantizeLinear") == 1 and ops.count("DequantizeLinear") == 1, ops
    assert not {"HardSwish", "HardSigmoid", "Mul", "Add", "Clip"} & set(ops), ops
    assert ops.count("QLinearMul") == 3 and ops.count("QLinearAdd") == 4, ops
    # ONNX Runtime's other users keep the graph as it was: the s8s8 form is not rewritten
    quantize_qdq(fp32, tmp_path / "s8s8.onnx", "input", iter(calibration), "s8s8")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "s8s8.onnx")).graph.node]
    assert ops.count("HardSwish") == 2 and ops.count("HardSigmoid") == 2


def test_uint8_activations_lose_no_accuracy_against_float_islands(files, tmp_path):
    fp32, calibration, x = files
    quantize_qdq(fp32, tmp_path / "u8s8.onnx", "input", iter(calibration), "u8s8")
    _quantize_static(fp32, tmp_path / "islands.onnx", "input", iter(calibration), "u8s8", [])
    reference = _run(fp32, x)

    def error(path):
        return float(np.abs(_run(path, x) - reference).mean() / np.abs(reference).mean())

    rewritten, islands = error(tmp_path / "u8s8.onnx"), error(tmp_path / "islands.onnx")
    assert rewritten < 0.05, rewritten
    assert rewritten < 1.5 * islands, (rewritten, islands)


def test_a_gate_outside_the_quantized_pattern_is_refused(files):
    import onnx

    fp32, _, _ = files
    decomposed = qdq_hard.decompose(onnx.load(str(fp32)))  # not quantized: no DequantizeLinear to fold into
    with pytest.raises(ValueError, match="hs1_hard1_gate_scale: not between a DequantizeLinear"):
        qdq_hard.fold_gate_scales(decomposed)


def test_a_gate_at_the_graph_output_stays_right(tmp_path):
    """No QuantizeLinear follows a gate that is the model's float output: its `* alpha` stays a Mul.
    (No convolution here: on x86 CPUs without VNNI, ONNX Runtime's u8 x s8 convolutions saturate
    16-bit sums, see conftest.INT8_SATURATION, which would hide what this checks.)"""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("HardSwish", ["input"], ["h"]),
         helper.make_node("HardSigmoid", ["h"], ["output"], alpha=1.0 / 6.0, beta=0.5)],
        "tail",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 3, 8, 8])],
    )  # fmt: skip
    fp32 = tmp_path / "tail.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(fp32))
    rng = np.random.default_rng(5)
    calibration = [rng.uniform(-4, 4, (4, 3, 8, 8)).astype(np.float32) for _ in range(2)]
    quantize_qdq(fp32, tmp_path / "u8s8.onnx", "input", iter(calibration), "u8s8")
    ops = [node.op_type for node in onnx.load(str(tmp_path / "u8s8.onnx")).graph.node]
    assert ops.count("Mul") == 2, ops  # hard-swish's x * gate, and the output gate's * alpha, kept
    x = rng.uniform(-4, 4, (4, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_run(tmp_path / "u8s8.onnx", x), _run(fp32, x), atol=0.01)
