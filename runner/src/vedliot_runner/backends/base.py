"""The backend interface: as small as MLPerf's (name, version, load, predict), plus what a record needs."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from vedliot_runner.errors import UsageError
from vedliot_runner.record import Scalar, TensorInfo

Feeds = Dict[str, np.ndarray]
OnComplete = Callable[[int, int], None]


@dataclasses.dataclass
class BackendSettings:
    """What a backend is asked to do, beyond the model file."""

    options: Mapping[str, str] = dataclasses.field(default_factory=dict)
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
    #: option name -> help; anything else given with --backend-option is refused.
    options: Mapping[str, str] = {}

    def __init__(self, settings: BackendSettings) -> None:
        unknown = sorted(set(settings.options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise UsageError(
                "--backend-option {}: not an option of backend '{}' (known: {})".format(
                    ", ".join(unknown), self.name, known
                )
            )
        self.settings = settings
        self.raw_options = dict(settings.options)
        self.threads = settings.threads
        self.mode = settings.mode

    # -- identity -----------------------------------------------------------------------------
    def version(self) -> Optional[str]:
        raise NotImplementedError

    def packages(self) -> Dict[str, Optional[str]]:
        """Versions of the packages this backend's numbers depend on."""
        return {}

    # -- model --------------------------------------------------------------------------------
    def load(self, path: Path) -> Tuple[List[TensorInfo], List[TensorInfo]]:
        """Load and compile the model; return its (inputs, outputs) as declared."""
        raise NotImplementedError

    def effective_precision(self) -> Tuple[Optional[str], Optional[str]]:
        """(precision really executed, human-readable detail) once loaded."""
        return None, None

    def resolved_options(self) -> Dict[str, Scalar]:
        """The options in force after defaults were applied, for the record."""
        return dict(self.raw_options)

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

    def default_requests_in_flight(self) -> int:
        return 1

    def run_in_flight(self, feeds: Feeds, requests: int, keep_going: Callable[[], bool], done: OnComplete) -> None:
        """Keep `requests` inferences in flight until keep_going() is False, calling
        done(start_ns, end_ns) as each completes. The default runs predict() in threads;
        backends with a native async queue (OpenVINO) override it."""
        if requests == 1:
            while keep_going():
                start = time.monotonic_ns()
                self.predict(feeds)
                done(start, time.monotonic_ns())
            return
        errors: List[BaseException] = []

        def worker() -> None:
            try:
                while keep_going() and not errors:
                    start = time.monotonic_ns()
                    self.predict(feeds)
                    done(start, time.monotonic_ns())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        pass
