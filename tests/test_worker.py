"""Every measured run in its own worker process: memory peaks per run, a worker that dies or
hangs leaves a `failed` record and the suite goes on, signals at any moment, and records that a
killed writer can not leave half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import contract
from vedliot_runner import writer
from vedliot_runner.cli import main as runner_main
from vedliot_runner.ending import ending_of
from vedliot_runner.protocol import Samples
from vedliot_runner.supervisor import WorkerReport

import models
from conftest import QUICK, assert_valid_records


def _run(*args: str) -> int:
    return runner_main(["run", *args])


def _records(directory: Path) -> list[dict]:
    return sorted(assert_valid_records(directory), key=lambda r: r["started_at"])


@pytest.fixture(scope="module")
def large_model(tmp_path_factory) -> Path:
    return models.large(tmp_path_factory.mktemp("large") / "large.onnx", megabytes=400)


def test_a_small_model_after_a_large_one_records_its_own_peak(model_dir, large_model, tmp_path):
    """In one runner process, the tiny model measured after a 400 MB one records the tiny model's
    own peak, not the process's high-water mark (which the schema-1 runner reported)."""
    common = ["--backend", "onnxruntime", "--threads", "1", "--quiet", *QUICK]
    assert _run("--model", str(model_dir / "tiny.onnx"), *common, "--output", str(tmp_path / "alone")) == 0
    assert _run("--model", str(large_model), *common, "--output", str(tmp_path / "both")) == 0
    assert _run("--model", str(model_dir / "tiny.onnx"), *common, "--output", str(tmp_path / "both")) == 0
    (alone,) = _records(tmp_path / "alone")
    large, after = _records(tmp_path / "both")
    peak = {name: r["memory"]["peak_rss_bytes"] for name, r in (("alone", alone), ("large", large), ("after", after))}
    assert peak["large"] > 400e6 > peak["alone"]
    assert peak["after"] < 0.5 * peak["large"]
    assert abs(peak["after"] - peak["alone"]) < 0.25 * peak["alone"], peak
    assert after["memory"]["scope"] == "worker" and after["timing"]["worker_start_ms"] > 0


def _kill_worker_when_timed(signum: int):
    """A progress callback that sends `signum` to the run's worker once its timed window is
    streaming (called in the parent, as the CLI's progress line is)."""
    state = {"sent": False, "ticks": 0}

    def progress(stage, *_):
        if stage == "timed" and not state["sent"]:
            state["ticks"] += 1
            if state["ticks"] >= 2:
                os.kill(contract.wait_for_worker(os.getpid()), signum)
                state["sent"] = True

    return progress


@pytest.mark.parametrize(("signum", "words"), [(signal.SIGABRT, "abort"), (signal.SIGKILL, "out-of-memory")])
def test_a_dead_worker_leaves_a_failed_record_and_the_suite_goes_on(digits_zoo, tmp_path, signum, words):
    from vedliot_runner.suite import LoopDefaults, SuiteRequest, run_suite

    loop = LoopDefaults(warmup_iterations=0, warmup_seconds=0.0, min_iterations=3, min_seconds=2.0)
    request = SuiteRequest("x86-onnxruntime", tmp_path, zoo=digits_zoo, models=["digits"], precisions=["fp32", "int8"],
                           quick=True, loop=loop, threads=1)  # fmt: skip
    code, runs = run_suite(request, log=lambda _: None, progress=_kill_worker_when_timed(signum))
    assert code == 1 and len(runs) == 2
    dead, survivor = _records(tmp_path)
    assert dead["status"] == "failed" and dead["error"]["signal"] == signal.Signals(signum).name
    assert dead["error"]["stage"] == "timed" and words in dead["error"]["message"]
    assert dead["timing"]["iterations"] == len(dead["timing"]["samples_ns"]) > 0
    assert dead["memory"]["peak_rss_bytes"] > 0
    assert survivor["status"] == "ok" and survivor["precision"]["requested"] == "int8"


def test_timeout_stops_the_worker_and_says_so(model_dir, tmp_path, capsys):
    code = _run("--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--threads", "1",
                "--min-seconds", "600", "--timeout", "3", "--output", str(tmp_path), "--quiet")  # fmt: skip
    assert code == 1
    (record,) = _records(tmp_path)
    assert record["status"] == "failed" and record["error"]["type"] == "Timeout"
    assert record["error"]["message"].startswith("exceeded --timeout 3 s during timed; stopped after")
    assert record["config"]["timeout_s"] == 3 and record["timing"]["iterations"] > 0
    assert "exceeded --timeout 3 s" in capsys.readouterr().err


def test_a_hung_worker_is_killed_after_the_timeout(model_dir, tmp_path):
    """A worker stuck in a native call (here: stopped with SIGSTOP) ignores SIGTERM; it is
    killed after the grace period and the record keeps what was streamed."""
    state = {"stopped": False}

    def progress(stage, *_):
        if stage == "timed" and not state["stopped"]:
            os.kill(contract.wait_for_worker(os.getpid()), signal.SIGSTOP)
            state["stopped"] = True

    from vedliot_runner.cli import _run_request, build_parser
    from vedliot_runner.run import execute

    args = build_parser().parse_args(["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
                                      "--min-seconds", "600", "--timeout", "2", "--output", str(tmp_path)])  # fmt: skip
    started = time.monotonic()
    outcome = execute(_run_request(args), progress=progress)
    assert time.monotonic() - started < 30
    assert outcome.exit_code == 1 and outcome.record.error.signal == "SIGKILL"
    assert "did not stop within 5 s and was killed" in outcome.message


def test_the_worker_dies_with_its_parent(model_dir, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "vedliot_runner", "run", "--model", str(model_dir / "tiny.onnx"), "--backend",
         "onnxruntime", "--min-seconds", "600", "--output", str(tmp_path), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = contract.wait_for_worker(proc.pid)
    time.sleep(1.0)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while contract.alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not contract.alive(worker), "a worker outlived its parent"


def test_a_second_signal_kills_a_stuck_worker_and_the_record_is_still_written(model_dir, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "vedliot_runner", "run", "--model", str(model_dir / "tiny.onnx"), "--backend",
         "onnxruntime", "--min-seconds", "600", "--output", str(tmp_path), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    worker = contract.wait_for_worker(proc.pid)
    time.sleep(1.5)
    os.kill(worker, signal.SIGSTOP)  # a long native call: the first Ctrl-C cannot stop it
    os.kill(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    (record,) = _records(tmp_path)
    assert record["status"] == "interrupted" and "a second signal killed the worker" in record["error"]["message"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_is_one_line_and_exit_130(model_dir, tmp_path, signum):
    """Sent as soon as the runner's handlers are in, while numpy and the rest still import.
    (Python itself catches SIGINT from its start; SIGTERM is caught by the runner only.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vedliot_runner", "run", "--model", str(model_dir / "tiny.onnx"), "--backend",
         "onnxruntime", "--output", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not contract.catches(proc.pid, signal.SIGTERM):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.001)
    os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and len(lines) == 1 and "Traceback" not in err, err
    assert signal.Signals(signum).name in lines[0] and "nothing was written" in lines[0]
    assert not tmp_path.exists() or not list(tmp_path.glob("*.json"))


def test_temp_files_of_killed_writers_are_cleaned_up(model_dir, tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = writer._host()
    stale = tmp_path / f".{'a' * 8}-0000-0000-0000-{'b' * 12}.{host}-{dead.pid}.x1y2z3.tmp"
    old = tmp_path / f".{'c' * 8}-0000-0000-0000-{'d' * 12}.other-host-77.q9w8e7.tmp"
    mine = tmp_path / f".{'e' * 8}-0000-0000-0000-{'f' * 12}.{host}-{os.getpid()}.r5t6y7.tmp"
    for path in (stale, old, mine):
        path.write_bytes(b"")
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    assert _run("--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK,
                "--output", str(tmp_path)) == 0  # fmt: skip
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert left == [mine.name]


REPEATED_SIGNALS = """
import os, signal, time
from vedliot_runner.interrupt import StopFlag, stop_on_signals
flag = StopFlag()
with stop_on_signals(flag):
    for _ in range(3):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
print(flag.requested, flag.reason, flag.urgent, flag.count)
"""


def test_repeated_signals_during_a_run_never_end_the_parent():
    """Ctrl-C three times while a record is being written: the parent's handlers only set flags
    (the second makes the stop urgent), so nothing can cut the write short. (In a process of its
    own: signals sent to the test process itself would also reach pytest's own handlers.)"""
    out = subprocess.run([sys.executable, "-c", REPEATED_SIGNALS], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stdout.split() == ["True", "SIGINT", "True", "3"]


def _report(**kw) -> WorkerReport:
    report = WorkerReport(started_ns=0, stage="timed")
    for key, value in kw.items():
        setattr(report, key, value)
    return report


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (_report(signal="SIGKILL", oom_killed=True), "killed by the kernel's out-of-memory killer"),
        (_report(signal="SIGKILL"), "the kernel's out-of-memory killer sends SIGKILL"),
        (_report(signal="SIGILL"), "illegal instruction"),
        (_report(exit_code=3), "exited with code 3 during timed without a result"),
    ],
)
def test_how_a_dead_worker_is_described(report, expected):
    report.output_tail.append("terminate called after throwing an instance of 'std::runtime_error'")
    report.streamed.extend([5, 6])
    report.last_samples = Samples([5, 6], 1, 0, 0, 10, 20, 30)
    end = ending_of(report, None, None, "tensorrt", accuracy=False)
    assert end.status == "failed" and end.exit_code == 1 and expected in end.message
    assert "std::runtime_error" in end.message and end.error.stage == "timed"


def test_a_worker_that_cannot_start_the_backend_leaves_a_record(model_dir, tmp_path, monkeypatch):
    """The runtime is installed (found) but fails to import in the worker: a record, not a crash."""
    bad = tmp_path / "site"
    (bad / "onnxruntime").mkdir(parents=True)
    message = "libonnxruntime.so: cannot open shared object"
    (bad / "onnxruntime" / "__init__.py").write_text(f"raise ImportError({message!r})\n")
    monkeypatch.setenv("PYTHONPATH", f"{bad}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    code = _run("--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK,
                "--output", str(tmp_path / "out"))  # fmt: skip
    (record,) = _records(tmp_path / "out")
    assert code == 3 and record["status"] == "unsupported" and record["error"]["stage"] == "setup"
    assert "cannot open shared object" in record["error"]["message"]


def test_stale_threads_of_earlier_runs_do_not_keep_the_parent_busy(model_dir, tmp_path):
    before = threading.active_count()
    for _ in range(3):
        assert _run("--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK,
                    "--output", str(tmp_path)) == 0  # fmt: skip
    time.sleep(0.2)
    assert threading.active_count() <= before + 1
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["status"] == "ok"
