"""One benchmark run: prepare, sample power, run the measurement in a fresh worker process, and
write exactly one record.

The parent (this process) owns the record; the worker (worker.py) imports the backend, loads the
model and measures. Mistakes found before anything runs raise UsageError and write nothing.
From the moment the run starts, every outcome (ok, failed, unsupported, interrupted, a worker
that crashed or was killed) is written as a record.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

from vedliot_runner import assemble, ending
from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import BenchError
from vedliot_runner.interrupt import stop_on_signals
from vedliot_runner.measure import Progress, StopFlag
from vedliot_runner.plan import RunPlan, prepare
from vedliot_runner.record import DetectionPredictions, PowerSection, Record, utc_now
from vedliot_runner.request import RunRequest
from vedliot_runner.supervisor import WorkerReport, run_worker
from vedliot_runner.writer import clean_stale_temps, sidecar_path, write_atomic, write_record


@dataclasses.dataclass
class RunOutcome:
    record: Record
    path: Path
    exit_code: int
    #: one line for stderr when the run is not ok
    message: Optional[str] = None


class NotStarted(BenchError):
    """A signal came before the run started: nothing ran, nothing is written."""

    exit_code = 130


def _window(report: WorkerReport) -> Optional[tuple]:
    m = assemble.measurement_of(report)
    if m is None or m.window_start_ns is None or not m.iterations:
        return None
    return m.window_start_ns, m.window_end_ns if m.window_end_ns is not None else m.window_start_ns


def _detections(plan: RunPlan, report: WorkerReport) -> Optional[DetectionPredictions]:
    """Write a detection run's COCO results beside the record (before it) and describe them."""
    evaluation = report.finished.evaluation if report.finished else None
    if plan.accuracy is None or evaluation is None or not evaluation.samples_done:
        return None
    if plan.accuracy.recipe.task != "detection":
        return None
    path = sidecar_path(plan.request.output, plan.run_id, "detections")
    write_atomic(path, json.dumps(evaluation.detections, separators=(",", ":")))
    return DetectionPredictions(path.name, len(evaluation.detections), sha256_of(path), list(evaluation.image_ids))


def _write(plan: RunPlan, record: Record, end: ending.Ending) -> RunOutcome:
    path = write_record(record, plan.request.output)
    return RunOutcome(record=record, path=path, exit_code=end.exit_code, message=end.message)


def _measure(plan: RunPlan, stop: StopFlag, progress: Optional[Progress], started_at: str) -> RunOutcome:
    """Power sampling around the worker: idle first, then the worker, then the samples."""
    sampler, request = plan.sampler, plan.request
    floor = None
    job = plan.job
    if sampler is not None:
        sampler.start()  # UsageError: the sensor cannot be read, no record
        floor = sampler.window_floor_s(request.power.min_power_seconds)
        # A power sensor needs a long enough window (NVML averages over 1 s, RECS reads at 1 Hz).
        loop = dataclasses.replace(job.loop, min_seconds=max(job.loop.min_seconds, floor))
        job = dataclasses.replace(job, loop=loop)
    report = WorkerReport(started_ns=0)
    power: Optional[PowerSection] = None
    try:
        if sampler is not None:
            sampler.measure_idle(request.power.idle_seconds, lambda: stop.requested)
        if stop.requested:
            end = ending.interrupted_before_worker(stop.reason)
        else:
            report = run_worker(job, stop, progress, request.timeout_s)
            end = ending.ending_of(
                report, stop.reason, request.timeout_s, request.backend.name, plan.accuracy is not None
            )
    finally:
        if sampler is not None:
            sampler.stop()
            power = sampler.to_record(_window(report))
    record = assemble.record(plan, started_at, report, end, power, floor, _detections(plan, report))
    return _write(plan, record, end)


def execute(request: RunRequest, progress: Optional[Progress] = None, stop: Optional[StopFlag] = None) -> RunOutcome:
    """Run `request` and write its record. UsageError (nothing written) for a mistake found
    before the run starts; NotStarted when a signal came first."""
    plan = prepare(request)
    clean_stale_temps(request.output)
    stop = stop or StopFlag()
    with stop_on_signals(stop):
        if stop.requested:
            raise NotStarted("stopped by {} before the run started; nothing was written".format(stop.reason))
        started_at = utc_now()
        if plan.missing is not None:
            end = ending.unsupported(plan.missing)
            return _write(plan, assemble.record(plan, started_at, WorkerReport(started_ns=0), end, None), end)
        return _measure(plan, stop, progress, started_at)
