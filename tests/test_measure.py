"""The measurement loop's rules, on a real ONNX Runtime backend and on a backend whose calls
take a known time (so the stopping rules can be checked exactly)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vedliot_runner.backends.base import Backend, BackendSettings
from vedliot_runner.backends.onnxruntime import OnnxRuntimeBackend
from vedliot_runner.inputs import synthetic_inputs
from vedliot_runner.measure import LoopSettings, StopFlag, measure


class FakeClock:
    """A monotonic clock in ns that only moves when told: the loop's rules checked exactly."""

    def __init__(self, start: int = 1_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


class CountingBackend(Backend):
    """Each predict() takes `seconds` (on `clock` when given, else really sleeping); counts calls.
    Tests the loop, not an engine."""

    name = "counting"

    def __init__(
        self,
        seconds: float = 0.0,
        fail_at: int | None = None,
        stop: StopFlag | None = None,
        stop_at: int | None = None,
        clock: FakeClock | None = None,
    ) -> None:
        super().__init__(BackendSettings())
        self.seconds, self.fail_at, self.stop, self.stop_at, self.clock = seconds, fail_at, stop, stop_at, clock
        self.calls = 0

    def predict(self, feeds):
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("device lost")
        if self.stop is not None and self.calls == self.stop_at:
            self.stop.request("SIGINT")
        if self.clock is not None:
            self.clock.advance(int(self.seconds * 1e9))
        elif self.seconds:
            time.sleep(self.seconds)
        return [np.zeros(1)]


def settings(**kw) -> LoopSettings:
    base = dict(
        mode="latency", batch_size=1, warmup_iterations=0, warmup_seconds=0.0, min_iterations=1, min_seconds=0.0
    )
    base.update(kw)
    return LoopSettings(**base)


def clocked(seconds: float, **kw):
    clock = FakeClock()
    return CountingBackend(seconds=seconds, clock=clock, **kw), clock


def test_first_inference_is_timed_alone_and_excluded():
    backend, clock = clocked(0.001)
    m = measure(backend, {}, settings(warmup_iterations=3, min_iterations=10), StopFlag(), clock=clock)
    assert backend.calls == 1 + 3 + 10
    assert m.first_inference_ns == 1_000_000
    assert m.warmup_iterations == 3 and m.iterations == 10
    assert m.samples_ns == [1_000_000] * 10


def test_count_binds_when_duration_is_short():
    backend, clock = clocked(0.001)
    m = measure(backend, {}, settings(min_iterations=250, min_seconds=0.1), StopFlag(), clock=clock)
    assert m.iterations == 250  # 250 ms of samples: the count, not the 0.1 s, ended the window


def test_duration_binds_when_count_is_small():
    backend, clock = clocked(0.002)
    m = measure(backend, {}, settings(min_iterations=2, min_seconds=0.2), StopFlag(), clock=clock)
    assert m.window_end_ns - m.window_start_ns == 200_000_000
    assert m.iterations == 100  # exactly 0.2 s of 2 ms calls


def test_warmup_runs_until_count_and_seconds():
    backend, clock = clocked(0.001)
    m = measure(backend, {}, settings(warmup_iterations=2, warmup_seconds=0.05), StopFlag(), clock=clock)
    assert m.warmup_ns == 50_000_000 and m.warmup_iterations == 50


def test_samples_time_the_call_only():
    m = measure(CountingBackend(seconds=0.005), {}, settings(min_iterations=20), StopFlag())
    assert min(m.samples_ns) >= 5_000_000
    # The window is the samples plus a little loop bookkeeping, never less.
    assert m.window_end_ns - m.window_start_ns >= sum(m.samples_ns)


def test_failure_mid_loop_keeps_the_samples_and_names_the_stage():
    backend, clock = clocked(0.001, fail_at=8)
    m = measure(backend, {}, settings(warmup_iterations=2, min_iterations=100), StopFlag(), clock=clock)
    assert isinstance(m.error, RuntimeError) and m.stopped_in == "timed"
    assert m.iterations == 8 - 1 - 2 - 1
    assert m.window_end_ns >= m.window_start_ns


def test_failure_on_first_call():
    m = measure(CountingBackend(fail_at=1), {}, settings(), StopFlag())
    assert m.stopped_in == "first_inference" and m.first_inference_ns is None and m.window_start_ns is None


def test_stop_request_ends_the_loop_with_what_was_measured():
    stop = StopFlag()
    backend, clock = clocked(0.001, stop=stop, stop_at=30)
    m = measure(backend, {}, settings(min_iterations=10_000), stop, clock=clock)
    assert m.interrupted and m.stopped_in == "timed" and m.error is None
    assert m.iterations == 29


def test_progress_reports_every_quarter_second_of_the_window():
    ticks = []
    backend, clock = clocked(0.01)
    progress = lambda stage, elapsed, done, *_: ticks.append((stage, round(elapsed, 2), done))  # noqa: E731
    measure(backend, {}, settings(min_iterations=1, min_seconds=1.0), StopFlag(), progress, clock=clock)
    timed = [t for t in ticks if t[0] == "timed"]
    # The window's opening, then every 0.25 s; the loop ends at 1.0 s, before a fourth tick.
    assert [t[1] for t in timed] == [0.0, 0.25, 0.5, 0.75]
    assert [t[2] for t in timed] == [0, 25, 50, 75]


@pytest.mark.parametrize("requests", [1, 3])
def test_throughput_counts_completed_requests(requests):
    backend = CountingBackend(seconds=0.002)
    m = measure(backend, {}, settings(mode="throughput", requests_in_flight=requests, min_iterations=30), StopFlag())
    assert m.iterations >= 30
    assert m.iterations <= 30 + requests  # requests already started when the target was reached finish too
    assert backend.calls == 1 + m.iterations


def test_parallel_requests_overlap():
    """Three requests of 20 ms in flight finish 30 calls in well under 30 x 20 ms."""
    m = measure(
        CountingBackend(seconds=0.02),
        {},
        settings(mode="throughput", requests_in_flight=3, min_iterations=30),
        StopFlag(),
    )
    assert (m.window_end_ns - m.window_start_ns) < 0.6 * sum(m.samples_ns)


def test_real_onnxruntime_session(model_dir):
    backend = OnnxRuntimeBackend(BackendSettings(threads=1))
    inputs, _outputs = backend.load(model_dir / "tiny.onnx")
    feeds = synthetic_inputs(inputs, 2, seed=0)
    m = measure(backend, feeds, settings(warmup_iterations=2, min_iterations=20), StopFlag())
    assert m.iterations == 20 and m.error is None
    (logits,) = backend.predict(feeds)
    assert logits.shape == (2, 10) and np.isfinite(logits).all()


def test_stop_requested_before_the_first_inference_runs_nothing():
    stop = StopFlag()
    stop.request("SIGTERM")
    backend = CountingBackend()
    m = measure(backend, {}, settings(), stop)
    assert m.interrupted and m.stopped_in == "first_inference" and backend.calls == 0
