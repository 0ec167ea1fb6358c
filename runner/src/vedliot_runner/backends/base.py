"""The backend interface: as small as MLPerf's (name, version, load, predict), plus what a record needs."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from vedliot_runner import options as options_module
from vedliot_runner.record import Scalar, TensorInfo

Feeds = Dict[str, np.ndarray]
OnComplete = Callable[[int, int], None]


@dataclasses.dataclass
class BackendSettings:
    """What a backend is asked to do, beyond the model file."""

    #: the backend's Options dataclass, parsed from --backend-option (None: every default)
    options: Any = None
    threads: Optional[int] = None
    mode: str = "latency"
    batch_size: int = 1
    #: precision requested: backends with a precision knob (OpenVINO's hint, TVM's fp16) follow it
    precision: str = "fp32"
    #: shapes given with --input-shape, for inputs with symbolic dimensions besides the batch
    input_shapes: Mapping[str, List[int]] = dataclasses.field(default_factory=dict)


class Backend:
    """One inference engine. A backend module defines one subclass and registers it by name.

    Contract for predict(): it runs ONE inference call on host numpy inputs and returns host numpy
    outputs, so any device work is finished (synchronised) and host<->device copies are included.
    """

    name = "base"
    #: the typed options --backend-option is parsed into (options.parse), before anything runs
    Options: type = options_module.NoOptions
    #: set by the worker for long work in load() (TVM's tuning): progress(stage, elapsed_s, done,
    #: target_s, target_count) shows on the runner's progress line, stop.requested is a user's stop
    progress: Optional[Callable[..., None]] = None
    stop: Any = None

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        options = settings.options
        if options is None or isinstance(options, Mapping):
            options = self.parse_options(options or {})  # library callers may pass KEY=VALUE strings
        self.options = options
        self.threads = settings.threads
        self.mode = settings.mode

    @classmethod
    def parse_options(cls, raw: Mapping[str, str]) -> Any:
        """--backend-option KEY=VALUE strings as this backend's Options (UsageError if wrong)."""
        return options_module.parse(cls.Options, raw, "--backend-option ", "backend '{}'".format(cls.name))

    # -- identity -----------------------------------------------------------------------------
    def version(self) -> Optional[str]:
        raise NotImplementedError

    def packages(self) -> Dict[str, Optional[str]]:
        """Versions of the packages this backend's numbers depend on."""
        return {}

    @classmethod
    def fixed_batch(cls, path: Path) -> Optional[int]:
        """The batch the device runs this model at whatever is asked (a Xilinx DPU's), or None."""
        return None

    # -- model --------------------------------------------------------------------------------
    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        """Load and compile the model; return its (inputs, outputs) as declared."""
        raise NotImplementedError

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        """(precision really executed, human-readable detail) once loaded."""
        return None, None

    def resolved_options(self) -> Dict[str, Scalar]:
        """The options in force after defaults were applied, for the record; backends add what
        the runtime itself decided (providers in use, streams)."""
        return options_module.as_record(self.options)

    def device_memory_peak_bytes(self) -> Optional[int]:
        """Peak device memory of this run, where the runtime can tell (None: not readable)."""
        return None

    # -- real data (accuracy runs) -------------------------------------------------------------
    def encode_input(self, name: str, array: np.ndarray, dtype: str) -> np.ndarray:
        """Preprocessed float32 data -> what input `name` (declared `dtype`) takes. Backends of
        integer models override it to quantize with the tensor's own scale and zero point."""
        return array.astype(dtype, copy=False)

    def decode_output(self, index: int, array: np.ndarray) -> np.ndarray:
        """Output `index` as predict() returned it -> float32 for post-processing."""
        return array.astype(np.float32, copy=False)

    # -- inference ----------------------------------------------------------------------------
    def predict(self, feeds: Feeds) -> List[np.ndarray]:
        raise NotImplementedError

    #: True when predict() returns host arrays that went through host<->device copies.
    includes_host_device_copies = True
    #: True when predict() returns only once the device finished (the contract; a backend that
    #: times execution alone, with transfers=false, still synchronises)
    device_synchronized = True

    def default_requests_in_flight(self) -> int:
        return 1

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        """Keep `requests` inferences in flight until keep_going() is False, calling
        done(start_ns, end_ns) as each completes. The default runs predict() in that many threads,
        which suits runtimes whose sessions take concurrent calls (ONNX Runtime); runtimes that
        do not give each thread its own instance (TVM, LiteRT), and those with a native
        asynchronous queue drive it themselves (OpenVINO)."""
        run_threads([self.predict] * requests, feeds, keep_going, done)

    def close(self) -> None:
        pass


def run_threads(
    predicts: List[Callable[[Feeds], object]], feeds: Feeds, keep_going: Callable[[], bool], done: OnComplete
) -> None:
    """One thread per predict function, each calling it until keep_going() is False; the first
    error stops them all and is raised here."""
    if len(predicts) == 1:
        predict = predicts[0]
        while keep_going():
            start = time.monotonic_ns()
            predict(feeds)
            done(start, time.monotonic_ns())
        return
    errors: List[BaseException] = []

    def worker(predict: Callable[[Feeds], object]) -> None:
        try:
            while keep_going() and not errors:
                start = time.monotonic_ns()
                predict(feeds)
                done(start, time.monotonic_ns())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(predict,), daemon=True) for predict in predicts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
