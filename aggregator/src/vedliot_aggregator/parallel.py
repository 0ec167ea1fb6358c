"""Work spread over the machine's cores: forked worker processes see what the parent already
holds (copy-on-write) and send back only their small results: per-item work in order
(ordered_map), or one task beside the parent's own (Background).

Serial where forking does not pay or is not safe: few items, one usable core, or no `fork`
(macOS and Windows start processes by spawning, which would copy every record over a pipe).
VEDLIOT_WORKERS=1 forces the serial path.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

#: below this many items a serial loop is faster than starting workers (1,000 record files: 0.3 s
#: forked over 2 cores against 0.4-0.6 s serial, the workers' start included)
MIN_ITEMS = 500

_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def usable_cores() -> int:
    """The cores this process may use (a container's --cpuset-cpus included), or VEDLIOT_WORKERS."""
    configured = os.environ.get("VEDLIOT_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _run(bounds: tuple[int, int]) -> list[Any]:
    func, items = _JOB
    return [func(items[i]) for i in range(*bounds)]


def ordered_map(func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """[func(item) for item in items], in forked workers when it pays."""
    global _JOB
    workers = min(usable_cores(), len(items) // (MIN_ITEMS // 2) or 1)
    if workers < 2 or len(items) < MIN_ITEMS or "fork" not in multiprocessing.get_all_start_methods():
        return [func(item) for item in items]
    step = -(-len(items) // (workers * 4))  # a few chunks each: a slow chunk does not hold the rest
    chunks = [(start, min(start + step, len(items))) for start in range(0, len(items), step)]
    _JOB = (func, items)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return [result for part in pool.map(_run, chunks) for result in part]
    finally:
        _JOB = None


_TASK: Callable[[], Any] | None = None


def _call_task() -> Any:
    return _TASK()


class Background:
    """func() in a forked process while the caller goes on; result() waits for its value or
    raises its exception. Inline (at once) where ordered_map would be serial."""

    def __init__(self, func: Callable[[], Any]) -> None:
        global _TASK
        self._pool = None
        if usable_cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
            self._value = func()
            return
        _TASK = func
        try:
            self._pool = multiprocessing.get_context("fork").Pool(1)  # the worker sees _TASK from here
            self._pending = self._pool.apply_async(_call_task)
        finally:
            _TASK = None

    def result(self) -> Any:
        if self._pool is None:
            return self._value
        try:
            return self._pending.get()
        finally:
            self.close()

    def close(self) -> None:
        """Stops the process if it still runs (the caller failed before it wanted the value)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool, self._value = None, None
