"""SIGINT/SIGTERM: a run stops instead of the process dying, so the samples taken so far still
reach an 'interrupted' record.

Handlers go in at the very start of a process (`catch_early`), before the heavy imports, so a
signal that comes while numpy or a vendor runtime is importing is remembered, not turned into
a KeyboardInterrupt traceback or a silent exit 143; `stop_on_signals` then takes it over for
the run. In the parent a second signal marks the stop urgent (the worker is killed, the record
is still written); in a worker it ends the process the usual way.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator, Optional


class StopFlag:
    """Set from a signal handler; the loop looks at it after every iteration."""

    def __init__(self) -> None:
        self.requested = False
        self.reason: Optional[str] = None
        #: how many stop requests came (a second one means "now")
        self.count = 0

    def request(self, reason: str) -> None:
        self.count += 1
        if not self.requested:
            self.requested = True
            self.reason = reason

    @property
    def urgent(self) -> bool:
        return self.count >= 2


SIGNALS = (signal.SIGINT, signal.SIGTERM)
_early = StopFlag()


def _remember(signum, _frame) -> None:
    _early.request(signal.Signals(signum).name)


def catch_early() -> None:
    """Remember SIGINT/SIGTERM from now on (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for signum in SIGNALS:
            signal.signal(signum, _remember)


def pending() -> Optional[str]:
    """The signal that came before a run took over, if any."""
    return _early.reason if _early.requested else None


@contextlib.contextmanager
def stop_on_signals(flag: StopFlag, second_kills: bool = False) -> Iterator[StopFlag]:
    """Signals set `flag` inside the block. `second_kills`: a second signal ends the process
    with the default action (a worker); otherwise it only marks the flag urgent (the parent)."""
    if _early.requested and not flag.requested:
        flag.request(_early.reason or "a signal")
    if threading.current_thread() is not threading.main_thread():
        # Signal handlers can only be installed from the main thread; a library caller keeps its own.
        yield flag
        return
    previous = {}

    def handler(signum, _frame) -> None:
        if flag.requested and second_kills:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        flag.request(signal.Signals(signum).name)

    for signum in SIGNALS:
        previous[signum] = signal.signal(signum, handler)
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
