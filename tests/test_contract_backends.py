"""The backend contract, run on every backend in the registry (vedliot_runner.backends.REGISTRY).

A backend added to the registry is tested here with no other change: the battery takes a model
of the backend's format from tests/contract.py and checks what every backend must do, in process
(the interface) and end to end through the CLI and its worker process (the records):

- load: the model loads and its inputs and outputs are declared; version and packages reported;
- effective precision read back from what the runtime built, with a detail;
- outputs: host numpy arrays, complete when predict() returns (the device synchronised, the
  copies done) and not reused by the next call;
- warm-up excluded and the min-count-and-min-duration rule, in latency and throughput mode;
- a runtime error surfaces as an exception from predict() and run_in_flight(), never a hang;
- stop requests are honoured in both modes;
- records: `unsupported` for what it cannot run (a fixed batch asked for another batch size),
  `failed` naming the signal when its worker dies, `interrupted` on SIGINT with every sample.

A self-timed backend (trtexec: a benchmark tool that applies the loop's rules itself) is held to
the same battery, with two differences in what "every sample" means: its samples arrive when the
tool exits, so a run stopped mid-window keeps none; and it keeps no outputs, so predict() must
refuse with an `unsupported` error naming the backend that has them.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import contract
from vedliot_runner.backends import REGISTRY, backend_class, backend_type, missing_requirement
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.errors import UnsupportedError
from vedliot_runner.inputs import synthetic_inputs
from vedliot_runner.interrupt import StopFlag
from vedliot_runner.measure import LoopSettings, measure
from vedliot_runner.request import PRECISIONS

from conftest import QUICK, assert_valid_records

BACKENDS = sorted(REGISTRY)


@pytest.fixture(scope="session")
def contract_models(tmp_path_factory):
    return contract.build_models(tmp_path_factory.mktemp("contract"))


@pytest.fixture(params=BACKENDS)
def name(request) -> str:
    problem = missing_requirement(request.param)
    if problem is not None:
        pytest.fail(f"{problem}: a backend in the registry needs its runtime or a double to be tested")
    return request.param


def _model(contract_models, name: str, static: bool = False):
    fmt = REGISTRY[name].format
    if fmt not in contract_models:
        pytest.fail(f"no contract model of format {fmt!r} for backend {name}: add one to tests/contract.py")
    dynamic, fixed = contract_models[fmt]
    return fixed if static or dynamic is None else dynamic


def _batch(contract_models, name: str) -> int:
    """2, or 1 for a format whose models have their batch compiled in (Edge TPU)."""
    return 1 if contract_models[REGISTRY[name].format][0] is None else 2


def _self_timed(name: str) -> bool:
    return bool(getattr(backend_type(name), "self_timed", False))


def _loaded(contract_models, name: str, mode: str = "latency"):
    settings = BackendSettings(batch_size=_batch(contract_models, name), mode=mode, threads=1)
    settings.options = contract.OPTIONS.get(name)
    backend = backend_class(name)(settings)
    inputs, outputs = backend.load(_model(contract_models, name))
    return backend, inputs, outputs


def _loop(mode: str = "latency", **kw) -> LoopSettings:
    base = dict(mode=mode, batch_size=1, warmup_iterations=0, warmup_seconds=0.0, min_iterations=1, min_seconds=0.0)
    base.update(kw)
    if mode == "throughput":
        base.setdefault("requests_in_flight", 2)
    return LoopSettings(**base)


def test_load_declares_the_signature_and_versions(contract_models, name):
    backend, inputs, outputs = _loaded(contract_models, name)
    assert inputs and outputs
    for tensor in [*inputs, *outputs]:
        assert tensor.name and np.dtype(tensor.dtype) and isinstance(tensor.shape, list)
    assert isinstance(backend.version(), str) and backend.version()
    assert all(isinstance(v, (str, type(None))) for v in backend.packages().values())
    backend.close()


def test_effective_precision_is_read_back(contract_models, name):
    backend, _, _ = _loaded(contract_models, name)
    effective, detail = backend.effective_precision()
    expected = contract.PRECISION.get(REGISTRY[name].format, "fp32")
    assert effective == expected and effective in PRECISIONS and detail
    backend.close()


def test_outputs_are_complete_host_arrays_when_predict_returns(contract_models, name):
    """A backend that returned before its device finished, or handed out a buffer the next call
    overwrites, fails here: each call's output must be final and its own."""
    backend, inputs, _ = _loaded(contract_models, name)
    batch = _batch(contract_models, name)
    first_feeds = synthetic_inputs(inputs, batch, seed=1)
    if _self_timed(name):
        with pytest.raises(UnsupportedError, match="--backend"):
            backend.predict(first_feeds)
        return
    first = backend.predict(first_feeds)
    kept = [np.array(o, copy=True) for o in first]
    second = backend.predict(synthetic_inputs(inputs, batch, seed=2))
    assert contract.finite_outputs(first) and contract.finite_outputs(second)
    for out, copy in zip(first, kept, strict=True):
        np.testing.assert_array_equal(out, copy)  # not overwritten by the second call
    assert any(not np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    again = backend.predict(first_feeds)
    for out, copy in zip(again, kept, strict=True):
        np.testing.assert_allclose(out, copy, rtol=1e-5, atol=1e-6)
    backend.close()


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_warmup_excluded_and_both_minimums_bind(contract_models, name, mode):
    backend, inputs, _ = _loaded(contract_models, name, mode=mode)
    feeds = synthetic_inputs(inputs, _batch(contract_models, name), seed=0)
    by_count = measure(backend, feeds, _loop(mode, warmup_iterations=3, min_iterations=40), StopFlag())
    assert by_count.error is None and by_count.first_inference_ns > 0
    assert by_count.warmup_iterations >= 3 and by_count.iterations >= 40
    assert len(by_count.samples_ns) == by_count.iterations and min(by_count.samples_ns) > 0
    by_time = measure(backend, feeds, _loop(mode, min_iterations=1, min_seconds=0.3), StopFlag())
    assert by_time.window_end_ns - by_time.window_start_ns >= 0.3e9 and by_time.iterations > 1
    backend.close()


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_runtime_errors_surface_as_exceptions(contract_models, name, mode):
    backend, inputs, _ = _loaded(contract_models, name, mode=mode)
    feeds = synthetic_inputs(inputs, _batch(contract_models, name), seed=0)
    wrong = {key: np.zeros((3, 5, 7), dtype=np.int16) for key in feeds}  # neither the shape nor the type
    result: dict = {}

    def run() -> None:
        result["m"] = measure(backend, wrong, _loop(mode, min_iterations=5), StopFlag())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "a failing inference must not hang the loop"
    m = result["m"]
    assert m.error is not None and m.stopped_in == "first_inference" and m.iterations == 0
    backend.close()


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_stop_requests_are_honoured(contract_models, name, mode):
    backend, inputs, _ = _loaded(contract_models, name, mode=mode)
    feeds = synthetic_inputs(inputs, _batch(contract_models, name), seed=0)
    stop = StopFlag()
    # armed once the timed loop starts: a fixed delay from here assumed the first inference takes
    # less (a compiling backend on a busy CI machine may not); the fallback ends a loop that never says
    timers = [threading.Timer(0.5, stop.request, args=("SIGINT",)), threading.Timer(20, stop.request, args=("SIGINT",))]

    def progress(stage, *_):
        if stage == "timed" and not timers[0].ident:  # not started yet
            timers[0].start()

    timers[1].start()
    started = time.monotonic()
    try:
        m = measure(backend, feeds, _loop(mode, min_iterations=10**9, min_seconds=600), stop, progress)
    finally:
        for timer in timers:
            timer.cancel()
    assert time.monotonic() - started < 30
    assert m.interrupted and m.stopped_in == "timed" and m.iterations == len(m.samples_ns)
    assert m.iterations > 0 or _self_timed(name)
    backend.close()


# -- end to end: records through the CLI and the worker process --------------------------------------


def _argv(model, name, out, *extra) -> list[str]:
    return [sys.executable, "-m", "vedliot_runner", "run", "--model", str(model), "--backend", name,
            "--output", str(out), "--threads", "1", *contract.cli_options(name), *extra]  # fmt: skip


def test_unsupported_record_for_a_batch_it_cannot_run(contract_models, name, tmp_path):
    model = _model(contract_models, name, static=True)
    if model is None:
        pytest.skip(f"{REGISTRY[name].format} models have no batch compiled in (tests/contract.py)")
    proc = subprocess.run(_argv(model, name, tmp_path, "--batch-size", "2", "--quiet", *QUICK),
                          capture_output=True, text=True, timeout=300, env=contract.environment())  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    (record,) = assert_valid_records(tmp_path)
    assert record["status"] == "unsupported" and "batch" in record["error"]["message"]
    assert record["software"]["backend"] == {"name": name, "version": record["software"]["backend"]["version"]}
    assert record["software"]["backend"]["version"]


def _start_on_a_terminal(argv):
    """Start `argv` with stderr on a pseudo-terminal (so it shows progress); returns (proc, fd)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, text=True, env=contract.environment())
    os.close(slave)
    return proc, master


def _wait_for(master: int, text: bytes, timeout: float = 240) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {text!r}; saw {seen[-500:]!r}"
        ready, _, _ = select.select([master], [], [], min(remaining, 1.0))
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    return seen


def _signal_while_timed(model, name: str, output, act) -> dict:
    """Run `model` with a long window, call act(runner_pid) once the timed window shows on the
    terminal, and return the exit code and the one record."""
    argv = _argv(model, name, output, "--warmup-iterations", "0", "--warmup-seconds", "0", "--min-seconds", "600")
    proc, master = _start_on_a_terminal(argv)
    try:
        _wait_for(master, b"timed ")
        act(proc.pid)
        proc.communicate(timeout=60)
    finally:
        os.close(master)
    (record,) = assert_valid_records(output)
    return {"code": proc.returncode, "record": record}


def test_interrupted_record_on_sigint(contract_models, name, tmp_path):
    result = _signal_while_timed(_model(contract_models, name), name, tmp_path, lambda pid: os.kill(pid, signal.SIGINT))
    record = result["record"]
    assert result["code"] == 130
    assert record["status"] == "interrupted" and record["error"]["stage"] == "timed"
    assert "SIGINT" in record["error"]["message"]
    assert record["timing"]["iterations"] == len(record["timing"]["samples_ns"])
    assert record["timing"]["iterations"] > 0 or _self_timed(name)


def _crash_worker(runner_pid: int) -> None:
    time.sleep(0.6)  # past two progress ticks: samples have been streamed
    os.kill(contract.wait_for_worker(runner_pid), signal.SIGSEGV)


def test_failed_record_when_the_worker_dies(contract_models, name, tmp_path):
    """A native crash in the runtime (SIGSEGV) ends the worker; the record says so, keeps the
    samples streamed before it, and the exit code is 1."""
    result = _signal_while_timed(_model(contract_models, name), name, tmp_path, _crash_worker)
    record = result["record"]
    assert result["code"] == 1
    assert record["status"] == "failed" and record["error"]["signal"] == "SIGSEGV"
    assert record["error"]["stage"] == "timed" and "segmentation fault" in record["error"]["message"]
    assert record["timing"]["iterations"] == len(record["timing"]["samples_ns"])
    assert record["timing"]["iterations"] > 0 or _self_timed(name)
