"""Which task meta-schedule searches next: rounds in proportion to each task's share of an inference.

Round-robin gives every task the same trials. In MobileNetV3-Small the first convolution took 640 us
of a 3.7 ms inference after its first round and the squeeze-excite convolutions 1-30 us each, yet
each had 1/43 of the budget. Here every task first has one round, in order (so a deadline early on
still leaves each task measured, and each round's results are saved before the next round starts);
a task the database already holds from an earlier session counts as measured, with the rounds its
records make. Then the next round goes to the task with the most measured time per round it has
had: its weight (calls per inference) x its best latency / its rounds. That hands out rounds in
proportion to the time each task holds, and follows the time as tuning moves it. meta-schedule's
gradient scheduler would weigh tasks too, but sends every task's first round before it saves any
result.

`pick_task` is the rule, plain Python; `time_share_scheduler` wraps it as meta-schedule's
PyTaskScheduler in the tuning child, where TVM is imported.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence

#: meta-schedule's database marks a candidate that failed to build or run with 1e10 s
FAILED_S = 1e9


@dataclasses.dataclass(frozen=True)
class TaskShare:
    """What the rule knows of one live task."""

    index: int
    #: how many times the inference calls the task's function
    weight: float
    #: seconds of its fastest measured candidate; None before any valid measurement
    best_s: Optional[float]
    #: search rounds it has been given
    rounds: int


def pick_task(tasks: Sequence[TaskShare]) -> int:
    """The index of the task to search next; -1 when none is left.

    A task not yet measured after a round (every candidate failed so far) counts as the most time a
    measured task holds, so it keeps getting rounds as the heaviest would, not forever first."""
    if not tasks:
        return -1
    fresh = [task.index for task in tasks if task.rounds == 0]
    if fresh:
        return min(fresh)
    times = {task.index: task.weight * task.best_s for task in tasks if task.best_s is not None}
    most = max(times.values()) if times else 1.0

    def score(task: TaskShare) -> tuple:
        return (times.get(task.index, most) / task.rounds, -task.index)

    return max(tasks, key=score).index


def mean_seconds(results) -> List[Optional[float]]:
    """Each runner result's (or tuning record's) mean time in seconds, None where it failed."""
    means = []
    for result in results:
        secs = None if getattr(result, "error_msg", None) else result.run_secs
        values = [float(getattr(sec, "value", sec)) for sec in secs or ()]
        mean = sum(values) / len(values) if values else None
        means.append(mean if mean is not None and mean < FAILED_S else None)
    return means


def time_share_scheduler(trials_per_round: int):
    """A meta-schedule task scheduler object following `pick_task` (imports TVM)."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.task_scheduler import PyTaskScheduler

    @derived_object
    class TimeShare(PyTaskScheduler):
        def __init__(self) -> None:
            super().__init__()
            self.best: dict = {}
            self.rounds: dict = {}

        def next_task_id(self) -> int:
            outer = self._outer()
            records = outer.tasks_
            if not self.rounds:
                self._seed(outer.database_, records)
            for index, record in enumerate(records):
                if record.runner_futures is not None:  # results first: the pick depends on them
                    self._note(index, outer.join_running_task(index))
            live = [TaskShare(index, float(record.task_weight), self.best.get(index), self.rounds.get(index, 0))
                    for index, record in enumerate(records) if not record.is_terminated]  # fmt: skip
            chosen = pick_task(live)
            if chosen >= 0:
                self.rounds[chosen] = self.rounds.get(chosen, 0) + 1
            return chosen

        def _seed(self, database, records) -> None:
            """Best time and rounds of each task from the records of earlier sessions."""
            self.rounds = {index: 0 for index in range(len(records))}
            for index, record in enumerate(records):
                if database is None or not database.has_workload(record.ctx.mod):
                    continue
                held = database.get_top_k(database.commit_workload(record.ctx.mod), 1 << 30)
                self._note(index, held)
                self.rounds[index] = -(-len(held) // trials_per_round)

        def _note(self, index: int, results) -> None:
            measured = [mean for mean in mean_seconds(results) if mean is not None]
            if measured:
                old = self.best.get(index)
                self.best[index] = min(measured) if old is None else min(old, min(measured))

    return TimeShare()
