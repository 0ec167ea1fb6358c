"""SIGINT/SIGTERM during a run stop the loop instead of killing the process, so the samples
taken so far still reach an 'interrupted' record."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from vedliot_runner.measure import StopFlag


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag) -> Iterator[StopFlag]:
    if threading.current_thread() is not threading.main_thread():
        # Signal handlers can only be installed from the main thread; a library caller keeps its own.
        yield flag
        return
    previous = {}

    def handler(signum, _frame) -> None:
        if flag.requested:
            # A second signal means "now": restore the default behaviour and re-deliver it.
            signal.signal(signum, previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        flag.request(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
