"""Where an Edge TPU model runs, read from real compiled models (with the real LiteRT, no TPU
needed) and from real edgetpu_compiler outputs (tests/data/edgetpu, SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vedliot_runner.backends.litert import _interpreter_module
from vedliot_runner.edgetpu_model import graph_split, parse_compiler_output, read_graph

DATA = Path(__file__).parent / "data" / "edgetpu"


@pytest.mark.parametrize(
    ("name", "subgraphs", "cpu"),
    [
        ("keras_lstm_mnist_ptq_edgetpu.tflite", 1, {}),  # fully mapped
        ("N32-nMACs41287680_quant_edgetpu.tflite", 1, {"QUANTIZE": 1}),  # the input QUANTIZE stays on the CPU
        ("N32-nMACs41287680_quant.tflite", 0, {"CONV_2D": 2, "QUANTIZE": 1}),  # not compiled
    ],
)
def test_the_split_is_read_from_the_real_graph_without_the_delegate(name, subgraphs, cpu):
    split = read_graph(str(DATA / name), _interpreter_module())
    assert (split.tpu_subgraphs, split.cpu_ops) == (subgraphs, cpu)
    assert split.compiled == bool(subgraphs)
    if not subgraphs:
        assert split.describe() == "not compiled for the Edge TPU (no edgetpu-custom-op)"
    elif cpu:
        assert split.describe() == "1 Edge TPU subgraph(s); operators on the CPU: QUANTIZE x1"


def test_the_operation_log_gives_mapped_and_unmapped_operators():
    report = parse_compiler_output((DATA / "N32-nMACs41287680_quant_edgetpu.log").read_text())
    assert report.version == "16.0.384591198"
    assert (report.tpu_ops, report.cpu_ops) == (2, 1)
    assert [(r.name, r.count, r.mapped) for r in report.operators] == [("CONV_2D", 2, True), ("QUANTIZE", 1, False)]
    assert report.operators[1].status.startswith("Operation is otherwise supported, but not mapped")


def test_a_console_output_with_cpu_fallback():
    report = parse_compiler_output((DATA / "compiler-tetutaro-yolo_various_framework.txt").read_text())
    assert report.version == "15.0.340273435" and report.succeeded is True
    assert (report.subgraphs, report.total_ops, report.tpu_ops, report.cpu_ops) == (1, 36, 2, 34)
    assert sum(r.count for r in report.operators) == 36
    assert {r.status for r in report.operators if not r.mapped} == {
        "More than one subgraph is not supported",
        "Operation is otherwise supported, but not mapped due to some unspecified limitation",
        "Operation version not supported",
        "Operation not supported",
    }


def test_a_fully_mapped_console_output_and_a_failed_one():
    mapped = parse_compiler_output((DATA / "compiler-google-coral-edgetpu-issue572.txt").read_text())
    assert mapped.succeeded is True and (mapped.total_ops, mapped.tpu_ops, mapped.cpu_ops) == (50, 50, 0)
    failed = parse_compiler_output((DATA / "compiler-google-coral-edgetpu-issue439.txt").read_text())
    assert failed.succeeded is False and failed.failure.startswith("Compilation failed")


def test_graph_split_counts_every_custom_op():
    split = graph_split(["QUANTIZE", "edgetpu-custom-op", "edgetpu-custom-op", "DEQUANTIZE"])
    assert split.tpu_subgraphs == 2 and split.cpu_op_count == 2
