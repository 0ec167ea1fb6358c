"""What the parent and a worker process say to each other.

The parent writes one WorkerJob to the worker's stdin; the worker answers with a stream of
messages on a pipe of its own (pickles, one after the other): Ready once its imports are done,
Stage as it moves on, Identified once the backend's runtime imported, Loaded once the model is
in, Progress and Samples while it measures, and Finished last. Everything is a plain dataclass:
no exception object crosses the pipe (a vendor's exception may not unpickle), only Failure, its
type name and message.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional

from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.measure import LoopSettings, Measurement
from vedliot_runner.model_info import RecipeSource
from vedliot_runner.record import Scalar, TensorInfo


@dataclasses.dataclass(frozen=True)
class AccuracyJob:
    #: the dataset as the parent read it (ClassificationSet or DetectionSet)
    dataset: Any
    recipe: RecipeSource


@dataclasses.dataclass(frozen=True)
class WorkerJob:
    backend: str
    settings: BackendSettings
    model_path: Path
    #: the zoo file's declared input layout (NCHW/NHWC), when the model comes from the zoo
    layout: Optional[str]
    loop: LoopSettings
    seed: int
    accuracy: Optional[AccuracyJob] = None


@dataclasses.dataclass(frozen=True)
class Ready:
    pid: int


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str


@dataclasses.dataclass(frozen=True)
class Identified:
    """The backend's identity, sent once its runtime imported (before the model loads)."""

    backend_version: Optional[str]
    packages: Dict[str, Optional[str]]


@dataclasses.dataclass(frozen=True)
class Loaded:
    inputs: List[TensorInfo]
    outputs: List[TensorInfo]
    effective: Optional[str]
    detail: Optional[str]
    resolved_options: Dict[str, Scalar]
    load_ns: int
    requests_in_flight: int
    #: shapes the inputs are fed with, by input name
    input_shapes: Dict[str, List[int]]
    #: what predict() includes, as the backend declares it (Backend.includes_host_device_copies, ...)
    includes_host_device_copies: Optional[bool] = None
    device_synchronized: Optional[bool] = None
    #: accuracy runs: the recipe as resolved for this model
    recipe: Optional[Dict[str, Any]] = None


@dataclasses.dataclass(frozen=True)
class Progress:
    stage: str
    elapsed_s: float
    done: int
    target_s: float
    target_count: int


@dataclasses.dataclass(frozen=True)
class Samples:
    """Timed samples since the previous Samples message, and where the loop stands: the parent
    keeps them, so that a worker that dies mid-window still leaves them in its record."""

    samples_ns: List[int]
    first_inference_ns: Optional[int]
    warmup_iterations: int
    warmup_ns: int
    window_start_ns: int
    window_start_unix_ns: Optional[int]
    #: the last completion seen so far
    window_end_ns: int


@dataclasses.dataclass(frozen=True)
class Failure:
    type: str
    message: str
    stage: str
    status: str
    exit_code: int


@dataclasses.dataclass
class Finished:
    #: the loop's or the accuracy pass's timing, its `error` always None (see `failure`)
    timing: Optional[Measurement]
    failure: Optional[Failure]
    #: accuracy runs: the pass's result (evaluate.Evaluation), its timing moved to `timing`
    evaluation: Any = None
    peak_rss_bytes: Optional[int] = None
    device_peak_bytes: Optional[int] = None
    #: resolved options once the run is over: what the backend learned running (a graph cache written)
    resolved_options: Optional[Dict[str, Scalar]] = None


class Channel:
    """The worker's end of the message pipe; safe to use from several threads (throughput
    mode reports progress from the backend's completion callbacks)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self.closed:
                return
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, OSError):
                # The parent is gone; the worker finishes on its own (and PDEATHSIG ends it).
                self.closed = True


class Reporter:
    """The loop's progress callback: progress lines for the parent's display and, in the timed
    window, the samples taken since the last tick (every 250 ms)."""

    def __init__(self, channel: Channel, out: Measurement) -> None:
        self.channel = channel
        self.out = out
        self.sent = 0
        self._lock = threading.Lock()

    def __call__(self, stage: str, elapsed: float, done: int, target_s: float, target_count: int) -> None:
        with self._lock:
            out = self.out
            if stage == "timed" and out.window_start_ns is not None:
                new = out.samples_ns[self.sent :]
                self.sent += len(new)
                self.channel.send(
                    Samples(
                        samples_ns=list(new),
                        first_inference_ns=out.first_inference_ns,
                        warmup_iterations=out.warmup_iterations,
                        warmup_ns=out.warmup_ns,
                        window_start_ns=out.window_start_ns,
                        window_start_unix_ns=out.window_start_unix_ns,
                        window_end_ns=out.window_start_ns + int(elapsed * 1e9),
                    )
                )
            self.channel.send(Progress(stage, elapsed, done, target_s, target_count))


def iter_messages(stream: IO[bytes]) -> Iterator[Any]:
    """The messages on the pipe until it closes or a message is cut off by the worker's death."""
    while True:
        try:
            yield pickle.load(stream)
        except EOFError:
            return
        except Exception:  # noqa: BLE001 - a truncated pickle: the worker died while writing
            return
