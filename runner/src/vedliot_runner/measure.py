"""The measurement loop: first inference, warmup, then a timed window that ends only when BOTH
the minimum iteration count and the minimum duration are reached (as MLPerf LoadGen does).

Every timestamp is time.monotonic_ns() (CLOCK_MONOTONIC on Linux), the clock power samplers use,
in whatever process they run. Tests inject their own clock (`clock=`) to check the stopping rules
exactly and without sleeping.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, List, Optional

from vedliot_runner.backends.base import Backend, Feeds
from vedliot_runner.interrupt import StopFlag

Clock = Callable[[], int]
#: progress(stage, elapsed_s, iterations, min_seconds, min_iterations)
Progress = Callable[[str, float, int, float, int], None]

_PROGRESS_TICK_NS = 250_000_000


@dataclasses.dataclass
class LoopSettings:
    mode: str  # latency | throughput
    batch_size: int
    warmup_iterations: int
    warmup_seconds: float
    min_iterations: int
    min_seconds: float
    #: throughput mode: requests in flight (None: the backend's choice, resolved once it loaded)
    requests_in_flight: Optional[int] = None

    @property
    def in_flight(self) -> int:
        return (self.requests_in_flight or 1) if self.mode == "throughput" else 1


@dataclasses.dataclass
class Measurement:
    """What the loop observed, whole or up to the point it stopped."""

    first_inference_ns: Optional[int] = None
    warmup_iterations: int = 0
    warmup_ns: int = 0
    window_start_ns: Optional[int] = None
    window_end_ns: Optional[int] = None
    window_start_unix_ns: Optional[int] = None
    samples_ns: List[int] = dataclasses.field(default_factory=list)
    requests_in_flight: int = 1
    #: the stage the loop was in when it stopped early: first_inference, warmup or timed
    stopped_in: Optional[str] = None
    error: Optional[BaseException] = None
    interrupted: bool = False
    #: a self-timed backend's tool: name, version, command and its own summary, verbatim
    tool: Optional[dict] = None

    @property
    def iterations(self) -> int:
        return len(self.samples_ns)


def warmup(
    backend: Backend,
    feeds: Feeds,
    settings: LoopSettings,
    stop: StopFlag,
    out: Measurement,
    clock: Clock = time.monotonic_ns,
) -> None:
    if settings.warmup_iterations <= 0 and settings.warmup_seconds <= 0:
        return
    start = clock()
    deadline = start + int(settings.warmup_seconds * 1e9)
    count = [0]

    def keep_going() -> bool:
        return not stop.requested and (count[0] < settings.warmup_iterations or clock() < deadline)

    def done(_start: int, _end: int) -> None:
        count[0] += 1

    if settings.mode == "throughput":
        backend.run_in_flight(feeds, settings.in_flight, keep_going, done)
    else:
        predict = backend.predict
        while keep_going():
            predict(feeds)
            count[0] += 1
    out.warmup_iterations = count[0]
    out.warmup_ns = clock() - start


def _timed_latency(
    backend: Backend,
    feeds: Feeds,
    settings: LoopSettings,
    stop: StopFlag,
    out: Measurement,
    progress: Optional[Progress],
    clock: Clock,
) -> None:
    """One request in flight; each sample is one predict() call, nothing else inside the clock reads."""
    predict = backend.predict
    samples = out.samples_ns
    append = samples.append
    min_iterations = settings.min_iterations
    out.window_start_unix_ns = time.time_ns()
    start = out.window_start_ns = clock()
    deadline = start + int(settings.min_seconds * 1e9)
    next_tick = start + _PROGRESS_TICK_NS
    t1 = start
    try:
        while True:
            t0 = clock()
            predict(feeds)
            t1 = clock()
            append(t1 - t0)
            if stop.requested or (t1 >= deadline and len(samples) >= min_iterations):
                break
            if progress is not None and t1 >= next_tick:
                next_tick = t1 + _PROGRESS_TICK_NS
                progress("timed", (t1 - start) / 1e9, len(samples), settings.min_seconds, min_iterations)
    finally:
        out.window_end_ns = t1


def _timed_throughput(
    backend: Backend,
    feeds: Feeds,
    settings: LoopSettings,
    stop: StopFlag,
    out: Measurement,
    progress: Optional[Progress],
    clock: Clock,
) -> None:
    """Up to requests_in_flight requests at once; the window ends at the last completion. The
    backend times each request itself (on time.monotonic_ns, as it must: see Backend.run_in_flight)."""
    samples = out.samples_ns
    min_iterations = settings.min_iterations
    out.window_start_unix_ns = time.time_ns()
    start = out.window_start_ns = clock()
    deadline = start + int(settings.min_seconds * 1e9)
    next_tick = [start + _PROGRESS_TICK_NS]

    def keep_going() -> bool:
        return not stop.requested and (len(samples) < min_iterations or clock() < deadline)

    def done(t0: int, t1: int) -> None:
        samples.append(t1 - t0)
        if out.window_end_ns is None or t1 > out.window_end_ns:
            out.window_end_ns = t1
        if progress is not None and t1 >= next_tick[0]:
            next_tick[0] = t1 + _PROGRESS_TICK_NS
            progress("timed", (t1 - start) / 1e9, len(samples), settings.min_seconds, min_iterations)

    backend.run_in_flight(feeds, settings.in_flight, keep_going, done)


def _self_timed(backend: Backend, feeds: Feeds, settings: LoopSettings, stop: StopFlag, progress, out) -> Measurement:
    """A backend that is a benchmark tool (trtexec) applies the loop's rules itself."""
    try:
        backend.measure_own(feeds, settings, stop, out, progress)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - as for any backend: a 'failed' record
        out.error = exc
        out.stopped_in = "timed" if out.first_inference_ns is not None else "first_inference"
    return out


def measure(
    backend: Backend,
    feeds: Feeds,
    settings: LoopSettings,
    stop: StopFlag,
    progress: Optional[Progress] = None,
    clock: Clock = time.monotonic_ns,
    out: Optional[Measurement] = None,
) -> Measurement:
    """Run the whole loop. Never raises for a backend failure or a stop request: the returned
    Measurement (`out`, when the caller wants to watch the samples grow) says where it stopped
    and keeps every sample taken before."""
    out = out if out is not None else Measurement()
    out.requests_in_flight = settings.in_flight
    stage = "first_inference"
    if stop.requested:  # a signal that arrived while the model was loading
        out.interrupted = True
        out.stopped_in = stage
        return out
    if getattr(backend, "self_timed", False):
        return _self_timed(backend, feeds, settings, stop, progress, out)
    try:
        t0 = clock()
        backend.predict(feeds)
        out.first_inference_ns = clock() - t0
        if not stop.requested:
            stage = "warmup"
            if progress is not None:
                progress("warmup", 0.0, 0, settings.warmup_seconds, settings.warmup_iterations)
            warmup(backend, feeds, settings, stop, out, clock)
        if not stop.requested:
            stage = "timed"
            if progress is not None:
                progress("timed", 0.0, 0, settings.min_seconds, settings.min_iterations)
            timed = _timed_throughput if settings.mode == "throughput" else _timed_latency
            timed(backend, feeds, settings, stop, out, progress, clock)
    except Exception as exc:  # noqa: BLE001 - any backend failure becomes a 'failed' record
        out.error = exc
        out.stopped_in = stage
        return out
    if stop.requested:
        out.interrupted = True
        out.stopped_in = stage
    return out
