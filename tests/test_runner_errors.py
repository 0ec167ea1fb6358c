"""Bad input: one clear line on stderr, no traceback, the documented exit code, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from vedliot_runner import backends

from conftest import QUICK, assert_valid_records


def _one_clean_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


def test_missing_model_is_a_usage_error(run_subprocess, tmp_path):
    result = run_subprocess("run", "--model", str(tmp_path / "nope.onnx"), "--backend", "onnxruntime")
    assert result.code == 2
    line = _one_clean_line(result.err)
    assert "nope.onnx" in line and "no such file" in line
    assert result.records == []


@pytest.mark.parametrize("name", ["not_onnx.onnx", "truncated.onnx"])
def test_unreadable_model_is_a_usage_error_with_a_failed_record(run_subprocess, model_dir, name):
    result = run_subprocess("run", "--model", str(model_dir / name), "--backend", "onnxruntime", "--quiet", *QUICK)
    assert result.code == 2
    line = _one_clean_line(result.err)
    assert name in line and ("ONNX" in line)
    (record,) = result.records
    assert record["status"] == "failed" and record["error"]["stage"] == "load"
    assert record["timing"] is None


def test_unknown_backend(run_subprocess, model_dir):
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "tensorflow")
    assert result.code == 2
    line = _one_clean_line(result.err)
    assert "tensorflow" in line and "onnxruntime" in line


def test_backend_not_installed_names_the_extra(run_inproc, model_dir, monkeypatch):
    entry = backends.BackendEntry(
        "vedliot_runner.backends.onnxruntime", "OnnxRuntimeBackend", "hailo", "hef", ("hailo_platform_not_here",)
    )
    monkeypatch.setitem(backends.REGISTRY, "hailo", entry)
    result = run_inproc("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "hailo", "--quiet", *QUICK)
    assert result.code == 3
    assert "pip install 'vedliot-runner[hailo]'" in result.err
    (record,) = result.records
    assert record["status"] == "unsupported" and record["software"]["backend"]["name"] == "hailo"


@pytest.mark.parametrize("batch", ["0", "-2"])
def test_batch_size_below_one(run_subprocess, model_dir, batch):
    result = run_subprocess(
        "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--batch-size", batch
    )
    assert result.code == 2
    assert "--batch-size" in _one_clean_line(result.err)
    assert result.records == []


def test_static_batch_refuses_other_batch_sizes(run_subprocess, model_dir):
    result = run_subprocess(
        "run",
        "--model",
        str(model_dir / "static1.onnx"),
        "--backend",
        "onnxruntime",
        "--batch-size",
        "8",
        "--quiet",
        *QUICK,
    )
    assert result.code == 3
    line = _one_clean_line(result.err)
    assert "static batch dimension of 1" in line and "--batch-size 1" in line
    (record,) = result.records
    assert record["status"] == "unsupported"


def test_static_batch_runs_at_its_own_size(run_inproc, model_dir):
    result = run_inproc(
        "run", "--model", str(model_dir / "static1.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK
    )
    assert result.code == 0 and result.records[0]["status"] == "ok"


def test_output_directory_not_writable(run_subprocess, model_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = run_subprocess(
        "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", output=blocker / "results"
    )
    assert result.code == 2
    line = _one_clean_line(result.err)
    assert "--output" in line and "a-file" in line


def test_unknown_backend_option(run_subprocess, model_dir):
    result = run_subprocess(
        "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--backend-option", "turbo=1"
    )
    assert result.code == 2
    line = _one_clean_line(result.err)
    assert "turbo" in line and "graph_optimization_level" in line


def test_unavailable_provider_is_unsupported(run_subprocess, model_dir):
    result = run_subprocess(
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--backend-option",
        "providers=NoSuchExecutionProvider",
        "--quiet",
        *QUICK,
    )
    assert result.code == 3
    assert "CPUExecutionProvider" in _one_clean_line(result.err)
    assert result.records[0]["status"] == "unsupported"


def test_runtime_failure_after_load_leaves_a_failed_record(run_subprocess, model_dir):
    result = run_subprocess(
        "run", "--model", str(model_dir / "fails.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK
    )
    assert result.code == 1
    line = _one_clean_line(result.err)
    assert "failed during first_inference" in line
    (record,) = result.records
    assert record["status"] == "failed"
    assert record["error"]["stage"] == "first_inference" and "Reshape" in record["error"]["message"]
    assert record["timing"]["load_ms"] > 0 and record["timing"]["iterations"] == 0


def test_symbolic_dimension_without_shape_is_explained(run_subprocess, model_dir):
    result = run_subprocess(
        "run", "--model", str(model_dir / "seq.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK
    )
    assert result.code == 2
    assert "--input-shape x=" in _one_clean_line(result.err)


def test_bad_argument_syntax_is_one_line(run_subprocess):
    result = run_subprocess("run", "--model", "m.onnx", "--backend", "onnxruntime", "--backend-option", "novalue")
    assert result.code == 2
    assert "KEY=VALUE" in _one_clean_line(result.err)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_timed_loop_writes_interrupted_record(model_dir, tmp_path, signum):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vedliot_runner",
            "run",
            "--model",
            str(model_dir / "tiny.onnx"),
            "--backend",
            "onnxruntime",
            "--warmup-iterations",
            "0",
            "--warmup-seconds",
            "0",
            "--min-seconds",
            "60",
            "--quiet",
            "--output",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Long enough for imports, load and some timed iterations on a loaded 2-core machine.
    time.sleep(4)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    (record,) = assert_valid_records(out)
    assert record["status"] == "interrupted"
    assert record["error"]["stage"] == "timed"
    assert signal.Signals(signum).name in record["error"]["message"]
    assert record["timing"]["iterations"] == len(record["timing"]["samples_ns"]) > 0
    assert stdout.strip().endswith(record["run_id"] + ".json")


def test_bad_option_value_is_a_usage_error_without_record(run_subprocess, model_dir):
    result = run_subprocess(
        "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
        "--backend-option", "graph_optimization_level=max",
    )  # fmt: skip
    assert result.code == 2
    assert "graph_optimization_level=max" in _one_clean_line(result.err)
    assert result.records == []


def test_an_image_results_directory_with_nothing_mounted_is_refused(model_dir, tmp_path, monkeypatch, capsys):
    """In the images, VEDLIOT_RESULTS_MOUNT=/results: a run there with nothing mounted would
    write records that vanish with the container (docker run --rm), so it does not start."""
    from vedliot_runner.cli import main

    out = tmp_path / "results"  # a plain directory: not a mount point
    monkeypatch.setenv("VEDLIOT_RESULTS_MOUNT", str(out))
    code = main(["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--output", str(out)])
    assert code == 2 and not list(out.glob("*.json"))
    assert "nothing is mounted there" in capsys.readouterr().err
    monkeypatch.setenv("VEDLIOT_RESULTS_MOUNT", "")  # the documented opt-out
    assert main(["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--output", str(out),
                 "--min-iterations", "3", "--min-seconds", "0", "--warmup-seconds", "0", "--quiet"]) == 0  # fmt: skip


def test_tvm_without_a_c_compiler_is_unsupported_and_says_why(model_dir, tmp_path, monkeypatch, capsys):
    """TVM links what it compiles with the system's C compiler; without one its export_library
    raised a TypeError the record blamed on the model file (the x86-tvm image had none)."""
    from vedliot_runner.cli import main

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no g++, gcc, clang or cc
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.delenv("CC", raising=False)
    out = tmp_path / "results"
    cache = f"cache_dir={tmp_path / 'cache'}"
    code = main(["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "tvm", "--output", str(out),
                 "--backend-option", cache, "--min-iterations", "3", "--quiet"])  # fmt: skip
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert code == 3 and record["status"] == "unsupported"
    assert "TVM needs a C compiler" in record["error"]["message"] and "not NoneType" not in record["error"]["message"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_directory_owned_by_someone_else_gets_the_user_hint(tmp_path):
    """The bind-mount case: /results belongs to the host user, the container runs as another. Root
    without the capability to override file permissions stands in for the other user."""
    foreign = tmp_path / "results"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    os.chmod(foreign, 0o755)
    probe = "import sys; from pathlib import Path; from vedliot_runner.writer import output_dir_problem as p; "
    probe += "print(p(Path(sys.argv[1])))"
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    done = subprocess.run([*drop, sys.executable, "-c", probe, str(foreign)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Permission denied" in done.stdout and "docker run --user $(id -u):$(id -g)" in done.stdout
