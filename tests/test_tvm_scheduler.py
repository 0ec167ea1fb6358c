"""Which task TVM's tuning searches next (tvm_scheduler): every task once in order, then rounds in
proportion to each task's measured share of an inference. The rule is plain Python and tested here
over simulated tuning sessions; the TVM wrapper runs in the real tuning test (test_tvm_tuning.py)."""

from __future__ import annotations

import types

import pytest

from vedliot_runner.backends.tvm_scheduler import FAILED_S, TaskShare, mean_seconds, pick_task


def _share(times: dict, rounds: dict, weights: dict | None = None) -> list:
    weights = weights or {}
    return [TaskShare(i, weights.get(i, 1.0), times.get(i), rounds.get(i, 0)) for i in sorted(rounds)]


def test_every_task_gets_a_round_in_order_before_any_gets_a_second():
    rounds = {0: 0, 1: 0, 2: 0}
    times = {}
    picked = []
    for _ in range(3):
        index = pick_task(_share(times, rounds))
        picked.append(index)
        rounds[index] += 1
        times[index] = 1e-3 * (index + 1)
    assert picked == [0, 1, 2]
    assert pick_task([]) == -1


def test_rounds_follow_each_tasks_share_of_the_inference():
    # weight x latency: task 0 holds 640 us, task 3 only 1 us (a squeeze-excite convolution)
    latency = {0: 640e-6, 1: 140e-6, 2: 60e-6, 3: 1e-6}
    weights = {0: 1.0, 1: 3.0, 2: 2.0, 3: 1.0}
    held = {i: weights[i] * latency[i] for i in latency}
    rounds = {i: 0 for i in latency}
    times: dict = {}
    total_rounds = 200
    for _ in range(total_rounds):
        index = pick_task(_share(times, rounds, weights))
        rounds[index] += 1
        times[index] = latency[index]
    assert sum(rounds.values()) == total_rounds
    assert rounds[3] == 1  # its first round only
    share = sum(held.values())
    for index, count in rounds.items():
        assert abs(count - total_rounds * held[index] / share) <= 2, rounds


def test_the_rounds_follow_the_time_as_tuning_moves_it():
    # the heavy task becomes fast after its rounds: the others get the next ones
    rounds = {0: 4, 1: 1, 2: 1}
    assert pick_task(_share({0: 800e-6, 1: 100e-6, 2: 100e-6}, rounds)) == 0
    assert pick_task(_share({0: 200e-6, 1: 100e-6, 2: 120e-6}, rounds)) == 2


def test_a_task_without_a_valid_measurement_is_retried_as_the_heaviest_would_be():
    rounds = {0: 1, 1: 1, 2: 1}
    times = {0: 300e-6, 1: 100e-6}  # task 2: every candidate failed so far
    assert pick_task(_share(times, rounds)) == 0  # ties go to the lower index
    assert pick_task(_share(times, {0: 2, 1: 1, 2: 1})) == 2
    assert pick_task(_share(times, {0: 2, 1: 1, 2: 2})) == 0  # not forever first
    assert pick_task(_share({}, rounds)) == 0  # nothing measured anywhere: turns


def test_mean_seconds_of_runner_results_and_database_records():
    imm = types.SimpleNamespace
    results = [
        imm(error_msg=None, run_secs=[imm(value=2e-6), imm(value=4e-6)]),
        imm(error_msg="LocalRunner: Timeout", run_secs=None),
        imm(run_secs=[1e-4]),  # a tuning record: no error_msg, plain floats
        imm(run_secs=[FAILED_S * 10]),  # the database's mark of a failed candidate
        imm(error_msg=None, run_secs=[]),
    ]
    assert mean_seconds(results) == [pytest.approx(3e-6), None, 1e-4, None, None]
