"""The trtexec backend: the runner's settings spelled as each trtexec version wants them, the
shared parser on real trtexec logs, and runs through the trtexec double (tests/fakes), which
prints what real builds print and refuses the options its version does not parse."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vedliot_runner import trtexec_output
from vedliot_runner.trtexec_run import Tool

import models
from conftest import FAKES, QUICK, assert_valid_records, run_runner

DATA = Path(__file__).parent / "data" / "trtexec"


def tool(version: str) -> Tool:
    t = Tool("/usr/src/tensorrt/bin/trtexec")
    t._version = version
    return t


@pytest.mark.parametrize(
    ("version", "streams", "no_copies", "copies", "fp16", "workspace", "duration"),
    [
        ("8.2.1", "--streams=2", ["--noDataTransfers"], [], ["--fp16"], "--workspace=64", "--duration=3"),
        ("8.4.1", "--streams=2", ["--noDataTransfers"], [], ["--fp16"], "--memPoolSize=workspace:64", "--duration=2.5"),
        (
            "8.6.1",
            "--infStreams=2",
            ["--noDataTransfers"],
            [],
            ["--fp16"],
            "--memPoolSize=workspace:64",
            "--duration=2.5",
        ),
        (
            "10.3.0",
            "--infStreams=2",
            ["--noDataTransfers"],
            [],
            ["--fp16"],
            "--memPoolSize=workspace:64",
            "--duration=2.5",
        ),
        (
            "11.4.0",
            "--infStreams=2",
            [],
            ["--includeDataTransfers"],
            [],
            "--memPoolSize=workspace:64",
            "--duration=2.5",
        ),
    ],
)
def test_options_are_spelled_as_each_version_parses_them(
    version, streams, no_copies, copies, fp16, workspace, duration
):
    t = tool(version)
    assert t.streams(2) == [streams]
    assert t.transfers(False) == no_copies and t.transfers(True) == copies
    assert t.precision_flags("fp16") == fp16 and t.precision_flags("fp32") == []
    assert t.workspace(64) == [workspace] and t.duration(2.5) == duration


def _read(name: str) -> str:
    path = DATA / name
    return gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text()


@pytest.mark.parametrize(
    ("name", "device", "capability", "engine", "bindings"),
    [
        (
            "console-trt8.0.3-verbose-hackathon-GTX1070-loadEngine.log.gz",
            "NVIDIA GeForce GTX 1070",
            "6.1",
            ("loaded", "0.696342"),
            [("x:0", True, [4, 1, 28, 28], None), ("z:0", False, [4], None)],
        ),
        (
            "console-trt8.6.0-verbose-hackathon-RTX3090-loadEngine.log.gz",
            "NVIDIA GeForce RTX 3090",
            "8.6",
            ("loaded", "0.00682958"),
            [("tensor-0", True, [4, 1, 28, 28], None), ("tensor-15", False, [4], None)],
        ),
        (
            "console-trt10.3-TensorRT-IntroNotebook1-resnet50.log",
            "NVIDIA RTX A5000",
            "8.6",
            ("built", "15.678"),
            [("gpu_0/data_0", True, [1, 3, 224, 224], None), ("gpu_0/softmax_1", False, [1, 1000], None)],
        ),
        (
            "console-trt10.14.1-verbose-hackathon-RTX6000Ada-loadEngine-cudagraph.log.gz",
            "NVIDIA RTX 6000 Ada Generation",
            "8.9",
            (None, None),
            [("x", True, [4, 1, 28, 28], None), ("y", False, [4, 10], None), ("z", False, [4], None)],
        ),
        (
            "console-trt10.16.1-hackathon-H100PCIe-onnx-default.log",
            "NVIDIA H100 PCIe",
            "9.0",
            ("built", "8.09138"),
            [("x", True, [1, 1, 28, 28], "fp32"), ("y", False, [1, 10], "fp32"), ("z", False, [1], "int64")],
        ),
    ],
)
def test_the_shared_parser_reads_device_engine_and_bindings_of_real_logs(name, device, capability, engine, bindings):
    log = trtexec_output.parse(_read(name))
    assert (log.device, log.compute_capability) == (device, capability)
    assert (log.engine, log.engine_s) == engine
    assert [(b.name, b.is_input, b.dims, b.dtype) for b in log.bindings] == bindings


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("trtexec-models")
    models.tiny(root / "tiny.onnx")
    models.custom_op(root / "custom_op.onnx")
    return root


def run(model: Path, out: Path, *extra: str, env: dict | None = None):
    argv = ["run", "--model", str(model), "--backend", "trtexec", "--output", str(out), "--quiet", *QUICK, *extra]
    proc = run_runner(*argv, env={"VEDLIOT_ENGINE_CACHE": str(out.parent / "cache"), **(env or {})})
    assert_valid_records(out)
    records = sorted(out.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return proc, json.loads(records[-1].read_text()) if records else None


@pytest.mark.parametrize("version", ["8.4.1", "8.6.1", "10.3.0", "11.4.0"])
def test_a_run_is_trtexecs_own_measurement(onnx_models, tmp_path, version):
    env = {"VEDLIOT_FAKE_TRT_VERSION": version}
    proc, record = run(
        onnx_models / "tiny.onnx",
        tmp_path / "a",
        "--batch-size",
        "2",
        "--warmup-seconds",
        "0.2",
        "--min-seconds",
        "0.3",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    timing, tool_run = record["timing"], record["timing"]["tool"]
    assert tool_run["name"] == "trtexec" and tool_run["version"] == version
    assert record["software"]["backend"] == {"name": "trtexec", "version": version}
    # every timed query is a sample, warm-up left out (8.4's trace holds it too), and IPS is trtexec's
    assert timing["iterations"] == len(timing["samples_ns"]) == int(tool_run["summary"]["queries"])
    assert timing["warmup_iterations"] > 0
    window_s = (timing["window_end_ns"] - timing["window_start_ns"]) / 1e9
    assert timing["inferences"] / window_s == pytest.approx(2 * float(tool_run["summary"]["qps"]), rel=2e-3)
    assert record["config"]["backend_options"]["engine"] == "built"
    assert "--loadEngine=" in tool_run["command"] and "--exportTimes=" in tool_run["command"]
    proc, again = run(onnx_models / "tiny.onnx", tmp_path / "b", "--batch-size", "2", env=env)
    assert proc.returncode == 0 and again["config"]["backend_options"]["engine"] == "reused"


def test_precision_flags_only_where_the_version_has_them(onnx_models, tmp_path):
    proc, record = run(
        onnx_models / "tiny.onnx", tmp_path / "a", "--precision", "fp16", env={"VEDLIOT_FAKE_TRT_VERSION": "10.3.0"}
    )
    assert proc.returncode == 0, proc.stderr
    assert record["precision"]["effective"] == "fp16"
    proc, record = run(
        onnx_models / "tiny.onnx", tmp_path / "b", "--precision", "fp16", env={"VEDLIOT_FAKE_TRT_VERSION": "11.4.0"}
    )
    assert proc.returncode == 0, proc.stderr  # an --fp16 would have been "Unknown option" there
    assert record["precision"]["effective"] == "fp32"


@pytest.mark.parametrize(("version", "flag"), [("8.4.1", "--streams=3"), ("10.3.0", "--infStreams=3")])
def test_throughput_mode_uses_the_versions_streams_option(onnx_models, tmp_path, version, flag):
    proc, record = run(
        onnx_models / "tiny.onnx",
        tmp_path / "a",
        "--mode",
        "throughput",
        "--backend-option",
        "streams=3",
        env={"VEDLIOT_FAKE_TRT_VERSION": version},
    )
    assert proc.returncode == 0, proc.stderr
    assert flag in record["timing"]["tool"]["command"] and record["timing"]["requests_in_flight"] == 3


@pytest.mark.parametrize(("version", "flag"), [("10.3.0", "--noDataTransfers"), ("11.4.0", None)])
def test_transfers_false(onnx_models, tmp_path, version, flag):
    proc, record = run(
        onnx_models / "tiny.onnx",
        tmp_path / "a",
        "--backend-option",
        "transfers=false",
        env={"VEDLIOT_FAKE_TRT_VERSION": version},
    )
    assert proc.returncode == 0, proc.stderr
    command = record["timing"]["tool"]["command"]
    assert (flag in command) if flag else ("DataTransfers" not in command)
    assert record["timing"]["includes_host_device_copies"] is False


def test_no_trtexec_is_an_unsupported_record(onnx_models, tmp_path):
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != FAKES / "bin")
    proc, record = run(onnx_models / "tiny.onnx", tmp_path / "a", env={"PATH": path})
    assert proc.returncode == 3 and "no trtexec here" in proc.stderr and "Traceback" not in proc.stderr
    assert record["status"] == "unsupported" and record["error"]["stage"] == "setup"


def test_an_op_trtexec_refuses_is_unsupported(onnx_models, tmp_path):
    proc, record = run(onnx_models / "custom_op.onnx", tmp_path / "a")
    assert proc.returncode == 3 and record["status"] == "unsupported"
    assert "Plugin not found" in record["error"]["message"]


def test_an_accuracy_run_is_unsupported(digits_zoo, tmp_path):
    argv = [sys.executable, "-m", "vedliot_runner", "run", "--model", "zoo:digits", "--zoo", str(digits_zoo),
            "--backend", "trtexec", "--dataset", f"imagenet:{digits_zoo / 'digits' / 'val'}", "--output",
            str(tmp_path), "--quiet"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3 and "keeps no outputs" in proc.stderr
    (record,) = assert_valid_records(tmp_path)
    assert record["status"] == "unsupported"
