"""The tensorrt backend, end to end through the CLI and its worker, against the doubles of
`tensorrt` (each API generation) and cuda-python (tests/fakes), and the precision classifier on
real engine layer information (tests/data/trtexec/layerinfo-*)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vedliot_runner import trt_engine

import models
from conftest import QUICK, assert_valid_records, run_runner

DATA = Path(__file__).parent / "data" / "trtexec"
GENERATIONS = {"8.4.1": "bindings", "8.6.1": "named tensors", "10.3.0": "named tensors", "11.4.0": "named tensors"}


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("trt-models")
    tiny = models.tiny(root / "tiny.onnx")
    models.qdq_int8(tiny, root / "tiny_int8.onnx")
    models.static_batch(root / "static1.onnx")
    models.custom_op(root / "custom_op.onnx")
    return root


def run(model: Path, out: Path, *extra: str, env: dict | None = None, cache: Path | None = None):
    argv = ["run", "--model", str(model), "--backend", "tensorrt", "--output", str(out), "--quiet", *QUICK, *extra]
    proc = run_runner(*argv, env={"VEDLIOT_ENGINE_CACHE": str(cache or out / "cache"), **(env or {})})
    return proc, newest(out) if assert_valid_records(out) else None


def newest(out: Path) -> dict:
    records = sorted(out.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return json.loads(records[-1].read_text())


@pytest.mark.parametrize("version", sorted(GENERATIONS))
def test_each_api_generation_builds_runs_and_reuses_the_engine(onnx_models, tmp_path, version):
    env = {"VEDLIOT_FAKE_TRT_VERSION": version}
    proc, record = run(onnx_models / "tiny.onnx", tmp_path, "--batch-size", "4", env=env)
    assert proc.returncode == 0, proc.stderr
    options = record["config"]["backend_options"]
    assert record["status"] == "ok" and options["api"] == GENERATIONS[version]
    assert options["engine"] == "built" and options["engine_build_s"] >= 0
    assert f"trt{version}" in options["engine_key"] and "RTX-A5000" in options["engine_key"]
    assert record["software"]["backend"] == {"name": "tensorrt", "version": version}
    assert record["model"]["outputs"][0]["shape"] == [4, 10]
    assert record["timing"]["includes_host_device_copies"] is True
    assert record["precision"] == {
        "requested": "fp32",
        "effective": "fp32",
        "detail": "engine layers by format: 11 fp32",
    }
    proc, again = run(onnx_models / "tiny.onnx", tmp_path, "--batch-size", "4", env=env)
    assert proc.returncode == 0 and again["config"]["backend_options"]["engine"] == "reused"
    assert again["config"]["backend_options"]["engine_key"] == options["engine_key"]


def test_fp16_with_layers_kept_in_fp32_is_mixed_with_counts(onnx_models, tmp_path):
    env = {"VEDLIOT_FAKE_TRT_FP32_OPS": "GlobalAveragePool,Flatten"}
    proc, record = run(onnx_models / "tiny.onnx", tmp_path, "--precision", "fp16", env=env)
    assert proc.returncode == 0, proc.stderr
    assert record["precision"]["effective"] == "mixed"
    assert record["precision"]["detail"].startswith("engine layers by format: 9 fp16, 2 fp32")


def test_strongly_typed_tensorrt_11_runs_an_fp32_file_in_fp32(onnx_models, tmp_path):
    """TensorRT 11 has no FP16 builder flag: the file's types decide, and the record says so."""
    proc, record = run(
        onnx_models / "tiny.onnx", tmp_path, "--precision", "fp16", env={"VEDLIOT_FAKE_TRT_VERSION": "11.4.0"}
    )
    assert proc.returncode == 0, proc.stderr
    assert record["precision"]["requested"] == "fp16" and record["precision"]["effective"] == "fp32"


def test_int8_from_the_qdq_file(onnx_models, tmp_path):
    proc, record = run(onnx_models / "tiny_int8.onnx", tmp_path, "--precision", "int8")
    assert proc.returncode == 0, proc.stderr
    assert record["precision"]["effective"] == "mixed"
    assert "5 int8" in record["precision"]["detail"]


def test_throughput_mode_runs_one_context_per_request(onnx_models, tmp_path):
    proc, record = run(
        onnx_models / "tiny.onnx",
        tmp_path,
        "--mode",
        "throughput",
        "--batch-size",
        "2",
        "--backend-option",
        "streams=3",
    )
    assert proc.returncode == 0, proc.stderr
    assert record["timing"]["requests_in_flight"] == 3 and record["timing"]["iterations"] >= 5


def test_transfers_false_times_execution_alone(onnx_models, tmp_path):
    proc, record = run(onnx_models / "tiny.onnx", tmp_path, "--backend-option", "transfers=false")
    assert proc.returncode == 0, proc.stderr
    assert record["timing"]["includes_host_device_copies"] is False
    assert record["config"]["backend_options"]["transfers"] is False


@pytest.mark.parametrize(
    ("env", "status", "code", "words"),
    [
        ({"VEDLIOT_FAKE_CUDA": "nodevice"}, "unsupported", 3, "no usable NVIDIA GPU"),
        ({"VEDLIOT_FAKE_CUDA": "olddriver"}, "unsupported", 3, "older than this CUDA runtime"),
        ({"VEDLIOT_FAKE_GPU_MEMORY": "4096"}, "failed", 1, "out of device memory"),
    ],
)
def test_machine_problems_are_one_line_and_a_record(onnx_models, tmp_path, env, status, code, words):
    proc, record = run(onnx_models / "tiny.onnx", tmp_path, env=env)
    assert proc.returncode == code
    assert words in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert record["status"] == status and words in record["error"]["message"]
    assert record["error"]["stage"] in ("load", "setup")


def test_an_op_tensorrt_refuses_is_unsupported(onnx_models, tmp_path):
    proc, record = run(onnx_models / "custom_op.onnx", tmp_path)
    assert proc.returncode == 3 and record["status"] == "unsupported"
    assert "ONNX parser refuses it" in record["error"]["message"] and "Mystery" in record["error"]["message"]


def test_a_fixed_batch_model_asked_for_another_batch(onnx_models, tmp_path):
    proc, record = run(onnx_models / "static1.onnx", tmp_path, "--batch-size", "2")
    assert proc.returncode == 3 and "batch is fixed at 1" in record["error"]["message"]


@pytest.mark.parametrize(
    ("built_with", "run_with", "words"),
    [
        ({"VEDLIOT_FAKE_GPU": "Tesla V100-SXM2-16GB|7.0|17179869184"}, {}, "incompatible device"),
        ({"VEDLIOT_FAKE_TRT_VERSION": "10.3.0"}, {"VEDLIOT_FAKE_TRT_VERSION": "10.13.3"}, "library version"),
    ],
)
def test_an_engine_built_elsewhere_is_refused_with_what_to_do(onnx_models, tmp_path, built_with, run_with, words):
    proc, record = run(onnx_models / "tiny.onnx", tmp_path / "a", env=built_with, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    (plan,) = (tmp_path / "cache").glob("*.plan")
    proc, record = run(plan, tmp_path / "b", env=run_with)
    assert proc.returncode == 2 and words in proc.stderr and "rebuild it here from the ONNX file" in proc.stderr
    assert record["status"] == "failed" and record["error"]["stage"] == "load"


# -- the precision classifier on real layer information -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "effective", "counts"),
    [
        ("exportLayerInfo-trt10.16.1-hackathon-H100PCIe-model-trained.json", "fp32", {"fp32": 8}),
        ("layerinfo-trt8.4-TREx-A100-resnet18-fp16.json", "fp16", None),
        ("layerinfo-trt10.4-fuzzylabs-RTX3060Laptop-alexnet-fp16.json", "fp16", None),
        ("layerinfo-trt10.x-fuzzylabs-inspector-alexnet-fp32-fp16io.json", "fp32", None),
        ("layerinfo-trt8.4-TREx-A100-resnet18-int8-qat.json", "mixed", None),
    ],
)
def test_effective_precision_of_real_engines(name, effective, counts):
    found = trt_engine.layer_precisions((DATA / name).read_text())
    got, detail = trt_engine.effective_precision(found, "fp16")
    assert got == effective, (found, detail)
    if counts is not None:
        assert found == counts
    if effective == "mixed":
        assert found["int8"] >= 21 and set(found) == {"int8", "fp16", "fp32"}
