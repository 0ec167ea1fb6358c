"""`vedliot-runner run` end to end on real ONNX Runtime sessions and real files."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import QUICK


def test_run_writes_one_complete_record(run_inproc, model_dir):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--batch-size",
        "3",
        "--target",
        "test-box",
        "--seed",
        "7",
        *QUICK,
    )
    assert result.code == 0, result.err
    (record,) = result.records
    assert record["schema"] == "vedliot-bench/result/2"
    assert record["status"] == "ok" and record["provenance"]["kind"] == "measured"
    assert record["target"]["name"] == "test-box"
    model = record["model"]
    assert model["sha256"] == hashlib.sha256((model_dir / "tiny.onnx").read_bytes()).hexdigest()
    assert model["format"] == "onnx"
    assert model["inputs"] == [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 32, 32], "layout": None}]
    assert record["config"]["input_shapes"] == {"input": [3, 3, 32, 32]}
    assert record["precision"] == {"requested": "fp32", "effective": "fp32", "detail": "float parameters: fp32 100%"}
    timing = record["timing"]
    assert timing["clock"] == "monotonic_ns"
    assert timing["iterations"] == len(timing["samples_ns"]) >= 5
    assert timing["inferences"] == 3 * timing["iterations"]
    assert timing["first_inference_ms"] > 0 and timing["warmup_iterations"] >= 2
    assert timing["window_end_ns"] - timing["window_start_ns"] >= sum(timing["samples_ns"])
    assert record["software"]["backend"]["name"] == "onnxruntime"
    assert record["software"]["packages"]["onnxruntime"] and record["software"]["packages"]["numpy"]
    assert record["memory"]["peak_rss_bytes"] > 10 * 2**20
    assert record["host"]["cpu_cores_logical"] >= 1 and record["host"]["memory_bytes"] > 0


def test_summary_output_names_the_record(run_inproc, model_dir, tmp_path):
    result = run_inproc("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", *QUICK)
    (record,) = result.records
    first = result.out.splitlines()[0]
    assert first.startswith("record: ") and first.endswith(record["run_id"] + ".json")
    for key in ("mean", "median", "p90", "p99", "inferences/s"):
        assert key in result.out


def test_json_and_quiet_outputs(run_inproc, model_dir, tmp_path):
    result = run_inproc("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--json", *QUICK)
    summary = json.loads(result.out)
    assert summary["status"] == "ok" and summary["iterations"] >= 5
    assert summary["p90_ms"] >= summary["median_ms"] >= summary["min_ms"]
    quiet = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--quiet",
        *QUICK,
        output=tmp_path / "q",
    )
    assert quiet.out.strip().endswith(quiet.records[0]["run_id"] + ".json")
    assert quiet.err == ""


def test_min_iterations_and_min_seconds_both_bind(run_inproc, model_dir, tmp_path):
    by_count = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--warmup-iterations",
        "0",
        "--warmup-seconds",
        "0",
        "--min-iterations",
        "37",
        "--min-seconds",
        "0",
        "--quiet",
        output=tmp_path / "a",
    )
    assert by_count.records[0]["timing"]["iterations"] == 37
    by_time = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--warmup-iterations",
        "0",
        "--warmup-seconds",
        "0",
        "--min-iterations",
        "1",
        "--min-seconds",
        "0.3",
        "--quiet",
        output=tmp_path / "b",
    )
    timing = by_time.records[0]["timing"]
    assert timing["window_end_ns"] - timing["window_start_ns"] >= 0.3e9
    assert timing["iterations"] > 1


def test_throughput_mode_keeps_requests_in_flight(run_inproc, model_dir):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--mode",
        "throughput",
        "--requests",
        "2",
        "--batch-size",
        "4",
        "--min-iterations",
        "20",
        "--min-seconds",
        "0",
        "--warmup-iterations",
        "2",
        "--warmup-seconds",
        "0",
    )
    assert result.code == 0, result.err
    (record,) = result.records
    timing = record["timing"]
    assert record["config"]["mode"] == "throughput" and record["config"]["requests_in_flight"] == 2
    assert timing["requests_in_flight"] == 2
    assert timing["iterations"] >= 20 and timing["inferences"] == 4 * timing["iterations"]
    assert timing["window_end_ns"] > timing["window_start_ns"]


@pytest.mark.parametrize(
    ("model", "effective", "detail_has"),
    [
        ("tiny_int8.onnx", "int8", "quantization nodes"),
        # ORT's CPU provider inserts Casts around ops it has no fp16 kernel for: not pure fp16.
        ("fp16.onnx", "mixed", "Cast"),
    ],
)
def test_effective_precision_is_read_from_the_model(run_inproc, model_dir, model, effective, detail_has):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / model),
        "--backend",
        "onnxruntime",
        "--precision",
        "int8" if "int8" in model else "fp16",
        "--quiet",
        *QUICK,
    )
    assert result.code == 0, result.err
    precision = result.records[0]["precision"]
    assert precision["effective"] == effective
    assert detail_has in precision["detail"]


def test_fp16_model_gets_fp16_inputs(run_inproc, model_dir):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / "fp16.onnx"),
        "--backend",
        "onnxruntime",
        "--quiet",
        "--batch-size",
        "5",
        *QUICK,
    )
    (record,) = result.records
    assert record["model"]["inputs"][0]["dtype"] == "float16"
    assert record["config"]["input_shapes"] == {"x": [5, 16]}


def test_precision_mismatch_is_warned_not_hidden(run_inproc, model_dir):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--precision",
        "int8",
        "--quiet",
        *QUICK,
    )
    assert result.code == 0
    assert "requested int8 but the backend executed fp32" in result.err
    assert result.records[0]["precision"]["requested"] == "int8"


def test_backend_options_reach_the_session(run_inproc, model_dir):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--threads",
        "1",
        "--backend-option",
        "graph_optimization_level=basic",
        "--backend-option",
        "providers=CPUExecutionProvider",
        "--quiet",
        *QUICK,
    )
    assert result.code == 0, result.err
    options = result.records[0]["config"]["backend_options"]
    assert options["graph_optimization_level"] == "basic"
    assert options["providers"] == "CPUExecutionProvider"
    assert result.records[0]["config"]["threads"] == 1


def test_input_shape_fills_symbolic_dimensions(run_inproc, model_dir):
    result = run_inproc(
        "run",
        "--model",
        str(model_dir / "seq.onnx"),
        "--backend",
        "onnxruntime",
        "--batch-size",
        "2",
        "--input-shape",
        "x=2,7,4",
        "--quiet",
        *QUICK,
    )
    assert result.code == 0, result.err
    assert result.records[0]["config"]["input_shapes"] == {"x": [2, 7, 4]}


def test_info_lists_backends_and_host(run_inproc):
    result = run_inproc("info", "--json")
    info = json.loads(result.out)
    (ort,) = [b for b in info["backends"] if b["backend"] == "onnxruntime"]
    assert ort["version"] and ort["problem"] is None
    assert info["host"]["arch"] and info["host"]["cpu_model"]
    text = run_inproc("info")
    assert "onnxruntime" in text.out and "cpu_model" in text.out
