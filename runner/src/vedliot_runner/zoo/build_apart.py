"""A zoo build with each model in a process of its own (`zoo build --workers N`).

The files are built by single-threaded converters (TensorFlow's TFLite converter, ONNX Runtime's
quantizer): ResNet50's take 95 s and YoloV4's 68 s of one core here, so building models side by
side makes a whole build about 1.4x faster on two cores (docs/benchmarks.md; not 2x, because the
converters' own threads already use part of the second core). Workers are spawned, not forked:
TensorFlow must not inherit a forked copy of a parent's threads. Each worker returns its model's
manifest entry and log lines; only the parent writes the manifest, as each model finishes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

#: what a worker returns: the model's manifest entry (None when it built nothing) and its log lines
Result = Tuple[Optional[Dict[str, Any]], List[str]]


def run(
    worker: Callable[..., Result],
    calls: Iterable[Tuple[str, tuple]],
    workers: int,
    finished: Callable[[str, Result], None],
) -> None:
    """worker(*arguments) for each (model, arguments) in `calls`, at most `workers` at once;
    finished(model, result) in the parent as each one ends. The first failure is raised once
    the running workers end; workers not yet started are cancelled."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(worker, *arguments): name for name, arguments in calls}
        try:
            for future in as_completed(futures):
                finished(futures[future], future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
