"""The worker process: one measured run, from importing the backend to the last sample.

Started by the parent (supervisor.py) as `python -m vedliot_runner.worker FD PARENT_PID`, it reads
a WorkerJob on stdin and reports on file descriptor FD (protocol.py). A native crash, an abort
or an out-of-memory kill ends this process only; its peak memory is this run's alone. Each stage
is a function that returns a value; the parent assembles the record from them.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import sys
import time
from typing import Any, List, Optional, Tuple

from vedliot_runner import interrupt

# Before anything heavy is imported: a signal during the imports below is remembered.
interrupt.catch_early()

import numpy as np  # noqa: E402

from vedliot_runner import hostinfo  # noqa: E402
from vedliot_runner.backends import backend_class  # noqa: E402
from vedliot_runner.backends.base import Backend  # noqa: E402
from vedliot_runner.errors import EXIT_RUNTIME, BenchError, ModelFileError, RuntimeFailure  # noqa: E402
from vedliot_runner.inputs import synthetic_inputs  # noqa: E402
from vedliot_runner.measure import LoopSettings, Measurement, StopFlag, measure  # noqa: E402
from vedliot_runner.protocol import (  # noqa: E402
    Channel,
    Failure,
    Finished,
    Identified,
    Loaded,
    Progress,
    Ready,
    Reporter,
    Stage,
    WorkerJob,
)

_KEEP_ALIVE: List[Backend] = []


def failure_of(exc: BaseException, stage: str) -> Failure:
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, BenchError):
        return Failure(type(exc).__name__, message, stage, exc.status, exc.exit_code)
    return Failure(type(exc).__name__, message, stage, "failed", EXIT_RUNTIME)


def load_model(job: WorkerJob, backend: Backend) -> Tuple[List, List, int]:
    """(inputs, outputs, load time in ns); ModelFileError when the backend cannot read the file."""
    start = time.monotonic_ns()
    try:
        inputs, outputs = backend.load(job.model_path)
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a backend's own load failure
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError("{}: {} could not load it: {}".format(job.model_path, backend.name, first)) from None
    for tensor in inputs:
        tensor.layout = tensor.layout or job.layout
    return inputs, outputs, time.monotonic_ns() - start


def describe_loaded(job: WorkerJob, backend: Backend, model: Tuple[List, List, int]) -> Loaded:
    inputs, outputs, load_ns = model
    effective, detail = backend.effective_precision()
    in_flight = 1
    if job.loop.mode == "throughput":
        in_flight = job.loop.requests_in_flight or backend.default_requests_in_flight()
    return Loaded(
        inputs=inputs,
        outputs=outputs,
        effective=effective,
        detail=detail,
        resolved_options=backend.resolved_options(),
        load_ns=load_ns,
        requests_in_flight=in_flight,
        input_shapes={},
        includes_host_device_copies=backend.includes_host_device_copies,
        device_synchronized=backend.device_synchronized,
    )


def performance(job: WorkerJob, backend: Backend, loaded: Loaded, channel: Channel, stop: StopFlag) -> Finished:
    channel.send(Stage("inputs"))
    try:
        feeds = synthetic_inputs(loaded.inputs, job.loop.batch_size, job.seed, job.settings.input_shapes)
    except BenchError as exc:
        return Finished(None, failure_of(exc, "inputs"))
    except MemoryError:
        return Finished(None, failure_of(RuntimeFailure("not enough memory for the synthetic inputs"), "inputs"))
    shapes = {name: list(array.shape) for name, array in feeds.items()}
    channel.send(_with(loaded, input_shapes=shapes))
    loop = _resolved(job.loop, loaded.requests_in_flight)
    out = Measurement()
    channel.send(Stage("first_inference"))
    result = measure(backend, feeds, loop, stop, Reporter(channel, out), out=out)
    return _finish(result, None, backend)


def accuracy(job: WorkerJob, backend: Backend, loaded: Loaded, channel: Channel, stop: StopFlag) -> Finished:
    from vedliot_runner.evaluate import evaluate
    from vedliot_runner.model_info import recipe_for

    assert job.accuracy is not None
    try:
        recipe = recipe_for(loaded.inputs, job.accuracy.recipe)
    except BenchError as exc:
        return Finished(None, failure_of(exc, "load"))
    channel.send(_with(loaded, recipe=recipe.to_dict()))
    loop = LoopSettings(
        mode="latency",
        batch_size=job.loop.batch_size,
        warmup_iterations=job.loop.warmup_iterations,
        warmup_seconds=job.loop.warmup_seconds,
        min_iterations=1,
        min_seconds=0.0,
    )
    channel.send(Stage("preprocess"))
    progress = Reporter(channel, Measurement())
    result = evaluate(
        backend, loaded.inputs[0], loaded.outputs, recipe, job.accuracy.dataset, loop, stop, progress=progress
    )
    return _finish(result.timing, result, backend)


def _finish(timing: Measurement, evaluation: Any, backend: Backend) -> Finished:
    failure = None
    if timing.error is not None:
        failure = failure_of(timing.error, timing.stopped_in or "timed")
        failure = Failure(failure.type, failure.message, failure.stage, "failed", failure.exit_code)
        timing.error = None
    if evaluation is not None:
        evaluation.timing = None
    device_peak = backend.device_memory_peak_bytes()
    options = backend.resolved_options()
    return Finished(timing, failure, evaluation, hostinfo.peak_rss_bytes(), device_peak, options)


def _with(loaded: Loaded, **changes: Any) -> Loaded:
    return dataclasses.replace(loaded, **changes)


def _resolved(loop: LoopSettings, in_flight: int) -> LoopSettings:
    return dataclasses.replace(loop, requests_in_flight=in_flight)


def run_job(job: WorkerJob, channel: Channel, stop: StopFlag) -> Finished:
    """The run's stages in order; a failure at any of them is the Finished message's Failure."""
    channel.send(Stage("setup"))
    try:
        backend = backend_class(job.backend)(job.settings)
        channel.send(Identified(backend.version(), dict(backend.packages(), numpy=np.__version__)))
    except Exception as exc:  # noqa: BLE001 - not installed, or a runtime that fails to start
        return Finished(None, failure_of(exc, "setup"))
    # The backend is never closed nor garbage-collected here: the worker leaves with os._exit
    # once the parent has the result, so no vendor destructor runs. They hang (OpenVINO's streams
    # executor joins a callback thread that waits for the GIL the destructor holds) or crash
    # (CUDA teardown), and the process's exit releases devices and memory anyway.
    _KEEP_ALIVE.append(backend)
    backend.progress = lambda *tick: channel.send(Progress(*tick))
    backend.stop = stop
    try:
        channel.send(Stage("load"))
        loaded = describe_loaded(job, backend, load_model(job, backend))
        channel.send(loaded)
        stage = accuracy if job.accuracy is not None else performance
        return stage(job, backend, loaded, channel, stop)
    except Exception as exc:  # noqa: BLE001 - whatever the backend raised: a failed record, not a crash
        return Finished(None, failure_of(exc, "load"))


def die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this worker if the parent dies (a SIGKILLed runner must not leave
    a worker holding the accelerator)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(EXIT_RUNTIME)


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fd, parent_pid = int(args[0]), int(args[1])
    die_with_parent(parent_pid)
    os.set_inheritable(fd, False)  # processes a backend starts must not hold the pipe open
    channel = Channel(os.fdopen(fd, "wb"))
    job: WorkerJob = pickle.load(sys.stdin.buffer)
    channel.send(Ready(os.getpid()))
    stop = StopFlag()
    with interrupt.stop_on_signals(stop, second_kills=True):
        finished = run_job(job, channel, stop)
    channel.send(finished)
    return 0


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: the parent has the result, and vendor runtimes
    hang or crash in their destructors at exit (OpenVINO's async queue was seen to hang here)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
