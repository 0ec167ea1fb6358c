"""The operation counter on hand-built graphs whose counts are worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vedliot_runner import ops
from vedliot_runner.cli import main as runner_main


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializer=[numpy_helper.from_array(np.zeros(s, dtype=np.float32), n) for n, s in inits],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_plain_conv():
    # out 1x4x8x8 = 256 elements, each 3 (Cin) x 3 x 3 MACs
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [("x", [1, 3, 8, 8])], ["y"],
               [("w", [4, 3, 3, 3])])  # fmt: skip
    assert ops.count(m).macs == 256 * 27


def test_grouped_strided_conv():
    # 8 channels in 4 groups: each output sees 2 input channels; out 1x8x4x4 = 128 elements x 2x3x3
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], group=4, strides=[2, 2], pads=[1, 1, 1, 1])],
               [("x", [1, 8, 8, 8])], ["y"], [("w", [8, 2, 3, 3])])  # fmt: skip
    assert ops.count(m).macs == 128 * 18


def test_depthwise_conv():
    # out 1x6x8x8 = 384 elements, each one 3x3 window of one channel
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], group=6)], [("x", [1, 6, 10, 10])], ["y"],
               [("w", [6, 1, 3, 3])])  # fmt: skip
    assert ops.count(m).macs == 384 * 9


def test_conv_transpose():
    # each of the 1x4x5x5 = 100 input elements is scattered over Cout(2) x 3 x 3 outputs
    m = _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2])], [("x", [1, 4, 5, 5])], ["y"],
               [("w", [4, 2, 3, 3])])  # fmt: skip
    assert ops.count(m).macs == 100 * 18


def test_gemm_with_transposes():
    m = _model([helper.make_node("Gemm", ["a", "b"], ["y"], transB=1)], [("a", [1, 64])], ["y"], [("b", [10, 64])])
    assert ops.count(m).macs == 64 * 10
    # The first input dimension is taken as the batch, so A reaches Gemm transposed from [1, 64].
    nodes = [helper.make_node("Transpose", ["x"], ["a"]), helper.make_node("Gemm", ["a", "b"], ["y"], transA=1)]
    m = _model(nodes, [("x", [1, 64])], ["y"], [("b", [64, 10])])
    assert ops.count(m).macs == 64 * 10


def test_batched_matmul():
    # [2,3,4,5] @ [2,3,5,6] -> [2,3,4,6]: 144 outputs x K=5, and the batch 2 is divided out
    m = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [("a", [2, 3, 4, 5]), ("b", [2, 3, 5, 6])], ["y"])
    count = ops.count(m)
    assert count.batch == 2 and count.macs == 144 * 5 // 2


def test_symbolic_batch_counts_one_inference():
    # ["N",3,4,5] @ [3,5,6] (broadcast weights) -> [1,3,4,6] at N=1: 72 x 5
    m = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [("a", ["N", 3, 4, 5])], ["y"], [("b", [3, 5, 6])])
    count = ops.count(m)
    assert count.batch == 1 and count.macs == 72 * 5


def test_static_batch_is_divided_out():
    conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    one = ops.count(_model([conv], [("x", [1, 3, 8, 8])], ["y"], [("w", [4, 3, 3, 3])]))
    four = ops.count(_model([conv], [("x", [4, 3, 8, 8])], ["y"], [("w", [4, 3, 3, 3])]))
    assert four.batch == 4 and four.macs == one.macs


def test_uncounted_and_unresolved_are_listed():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("MatMul", ["r", "b"], ["y"]),
        helper.make_node("Add", ["y", "y"], ["z"]),
    ]
    # The sequence length T stays symbolic: the MatMul cannot be sized and must be reported.
    m = _model(nodes, [("x", ["N", "T", 4])], ["z"], [("b", [4, 8])])
    count = ops.count(m)
    assert count.macs == 0
    assert count.not_counted == {"Add": 1, "Relu": 1}
    assert len(count.unresolved) == 1 and "MatMul" in count.unresolved[0]


def test_ops_cli_json_and_text(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [("x", ["N", 3, 8, 8])], ["y"],
                     [("w", [4, 3, 3, 3])]), str(path))  # fmt: skip
    assert runner_main(["ops", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["macs"] == 6912 and data["gops"] == pytest.approx(2 * 6912 / 1e9)
    assert data["by_op_type"]["Conv"]["macs"] == 6912
    assert runner_main(["ops", str(path)]) == 0
    assert "6,912 MACs" in capsys.readouterr().out


def test_ops_cli_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_text("nope")
    assert runner_main(["ops", str(bad)]) == 2
    assert "bad.onnx" in capsys.readouterr().err
