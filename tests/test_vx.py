"""--backend vx (i.MX 8M Plus NPU): a real full-integer model and the real LiteRT interpreter, with
the double of the VX delegate (tests/fakes/tflite_runtime) where the NPU is needed and the real
delegate loader where it is missing or fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import LIBEDGETPU_DOUBLE, QUICK

DATA = Path(__file__).parent / "data" / "edgetpu"


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "lstm_int8.tflite"
    shutil.copy(DATA / "keras_lstm_mnist_ptq.tflite", path)
    return path


def _run(run_subprocess, model, *options, output=None):
    args = ["run", "--model", str(model), "--backend", "vx", "--precision", "int8", *QUICK, "--quiet"]
    for option in options:
        args += ["--backend-option", option]
    return run_subprocess(*args, output=output)


def test_npu_share_and_graph_cache_across_two_runs(run_subprocess, model, tmp_path, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_VX_CPU_OPS", "QUANTIZE")
    cache = tmp_path / "graphs"
    first = _run(run_subprocess, model, f"graph_cache={cache}", output=tmp_path / "a")
    assert first.code == 0, first.err
    (record,) = first.records
    options = record["config"]["backend_options"]
    assert (options["npu_ops"], options["cpu_ops"], options["cpu_op_names"]) == (4, 2, "QUANTIZE")
    assert options["graph_cache"] == str(cache) and options["graph_cache_state"].startswith("compiled and written")
    assert record["timing"]["first_inference_ms"] >= 100  # the double's graph compilation, timed apart
    assert record["precision"]["effective"] == "int8"
    second = _run(run_subprocess, model, f"graph_cache={cache}", output=tmp_path / "b")
    assert second.code == 0, second.err
    state = second.records[0]["config"]["backend_options"]["graph_cache_state"]
    assert state == "no new file: an earlier run's compilation reused"


def test_graph_cache_off(run_subprocess, model):
    result = _run(run_subprocess, model, "graph_cache=off")
    assert result.code == 0, result.err
    assert result.records[0]["config"]["backend_options"]["graph_cache_state"] == "off"


def test_missing_delegate_and_failing_npu_are_unsupported_records(run_subprocess, model, tmp_path, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_VX_NPU", "0")
    missing = _run(run_subprocess, model, "delegate=/nowhere/libvx_delegate.so", output=tmp_path / "a")
    assert missing.code == 3
    message = missing.records[0]["error"]["message"]
    assert "VX delegate /nowhere/libvx_delegate.so is not here" in message and "NXP's BSP" in message
    # a delegate library whose entry point returns NULL, as the VX delegate's does when it cannot start
    failing = tmp_path / "libvx_delegate.so"
    shutil.copy(LIBEDGETPU_DOUBLE, failing)
    result = _run(run_subprocess, model, f"delegate={failing}", output=tmp_path / "b")
    assert result.code == 3 and "/dev/galcore" in result.records[0]["error"]["message"]
    assert "Traceback" not in result.err


def test_a_delegate_that_takes_nothing_is_unsupported(run_subprocess, model, monkeypatch):
    ops = "QUANTIZE,UNIDIRECTIONAL_SEQUENCE_LSTM,RESHAPE,FULLY_CONNECTED,SOFTMAX"
    monkeypatch.setenv("VEDLIOT_FAKE_VX_CPU_OPS", ops)
    result = _run(run_subprocess, model)
    assert result.code == 3 and "took none of the 6 operators" in result.records[0]["error"]["message"]


def test_the_real_loader_on_a_missing_delegate_says_one_line(model, tmp_path):
    """The real LiteRT (no double on the path): its Delegate.__del__ error on a library that did
    not load ("'Delegate' object has no attribute '_library'") is not printed after our line."""
    from conftest import run_runner

    proc = run_runner("run", "--model", str(model), "--backend", "vx", "--output", str(tmp_path / "out"), "--quiet",
                      env={"PYTHONPATH": ""})  # fmt: skip
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert proc.stderr.strip().startswith(
        "vedliot-runner: unsupported: VX delegate /usr/lib/libvx_delegate.so is not here"
    )
