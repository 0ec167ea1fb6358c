"""The record, assembled once from the values a run produced: the plan (parent), what the worker
reported (or how it died), the power samples and the ending. Nothing here mutates a record
built elsewhere: each section is made by one function from its inputs."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

import numpy as np

from vedliot_runner import __version__, hostinfo
from vedliot_runner.ending import Ending
from vedliot_runner.measure import Measurement
from vedliot_runner.options import as_record
from vedliot_runner.plan import RunPlan
from vedliot_runner.protocol import Finished, Loaded
from vedliot_runner.record import (
    AccuracySection,
    BackendId,
    ClassificationPredictions,
    DatasetIdentity,
    DetectionPredictions,
    Memory,
    PowerSection,
    Precision,
    Record,
    RunConfig,
    Software,
    Target,
    Timing,
    utc_now,
)
from vedliot_runner.supervisor import WorkerReport


def target(plan: RunPlan) -> Target:
    # Images set these so a record names the container it came from.
    return Target(
        name=plan.request.target or os.environ.get("VEDLIOT_TARGET") or "local",
        image=os.environ.get("VEDLIOT_IMAGE") or None,
        image_digest=os.environ.get("VEDLIOT_IMAGE_DIGEST") or None,
        power_mode=plan.request.power_mode or os.environ.get("VEDLIOT_POWER_MODE") or None,
    )


def measurement_of(report: WorkerReport) -> Optional[Measurement]:
    """The loop's timing: as the worker finished it, or rebuilt from the samples it streamed."""
    if report.finished is not None:
        return report.finished.timing
    last = report.last_samples
    if last is None:
        return None
    return Measurement(
        first_inference_ns=last.first_inference_ns,
        warmup_iterations=last.warmup_iterations,
        warmup_ns=last.warmup_ns,
        window_start_ns=last.window_start_ns,
        window_end_ns=last.window_end_ns,
        window_start_unix_ns=last.window_start_unix_ns,
        samples_ns=list(report.streamed),
        requests_in_flight=report.loaded.requests_in_flight if report.loaded else 1,
    )


def timing(plan: RunPlan, report: WorkerReport) -> Optional[Timing]:
    m = measurement_of(report)
    loaded = report.loaded
    if m is None and loaded is None:
        return None
    m = m or Measurement()
    batch = plan.request.loop.batch_size
    evaluation = report.finished.evaluation if report.finished else None
    return Timing(
        load_ms=loaded.load_ns / 1e6 if loaded is not None else None,
        first_inference_ms=m.first_inference_ns / 1e6 if m.first_inference_ns is not None else None,
        warmup_iterations=m.warmup_iterations,
        warmup_ns=m.warmup_ns,
        window_start_ns=m.window_start_ns,
        # A window that opened but saw no completion closes where it opened.
        window_end_ns=m.window_end_ns if m.window_end_ns is not None else m.window_start_ns,
        window_start_unix_ns=m.window_start_unix_ns,
        iterations=m.iterations,
        inferences=evaluation.samples_done if evaluation is not None and m.iterations else m.iterations * batch,
        requests_in_flight=m.requests_in_flight,
        samples_ns=list(m.samples_ns),
        includes_host_device_copies=loaded.includes_host_device_copies if loaded is not None else None,
        device_synchronized=loaded.device_synchronized if loaded is not None else None,
        preprocess_samples_ns=list(evaluation.preprocess_ns) if evaluation is not None else None,
        postprocess_samples_ns=list(evaluation.postprocess_ns) if evaluation is not None else None,
        worker_start_ms=report.worker_start_ms,
        tool=m.tool,
    )


def config(plan: RunPlan, report: WorkerReport, min_power_seconds: Optional[float]) -> RunConfig:
    request, loaded = plan.request, report.loaded
    loop = request.loop
    evaluation = report.finished.evaluation if report.finished else None
    accuracy = plan.accuracy is not None
    shapes = dict(loaded.input_shapes) if loaded is not None else {}
    if evaluation is not None and evaluation.input_shape is not None and loaded is not None:
        shapes = {loaded.inputs[0].name: list(evaluation.input_shape)}
    samples = len(plan.accuracy.dataset) if plan.accuracy is not None else 0
    return RunConfig(
        batch_size=loop.batch_size,
        mode="accuracy" if accuracy else loop.mode,
        warmup_iterations=loop.warmup_iterations,
        warmup_seconds=loop.warmup_seconds,
        # Accuracy: every sample once; the pass's size, not a time or count floor, sets its length.
        min_iterations=max(1, -(-samples // loop.batch_size)) if accuracy else loop.min_iterations,
        min_seconds=0.0 if accuracy else loop.min_seconds,
        threads=request.backend.threads,
        requests_in_flight=loaded.requests_in_flight if loaded is not None else loop.requests_in_flight,
        seed=request.seed,
        input_shapes=shapes,
        backend_options=_backend_options(report, loaded, plan),
        power=request.power.spec if plan.sampler is not None else None,
        idle_seconds=request.power.idle_seconds if plan.sampler is not None else None,
        min_power_seconds=min_power_seconds,
        timeout_s=request.timeout_s,
    )


def _backend_options(report: WorkerReport, loaded, plan: RunPlan) -> dict:
    if loaded is None:
        return as_record(plan.options)
    options = dict(loaded.resolved_options)
    if report.finished is not None and report.finished.resolved_options:
        options.update(report.finished.resolved_options)  # learned while running (a graph cache written)
    return options


def accuracy(plan: RunPlan, report: WorkerReport, sidecar: Optional[DetectionPredictions]) -> Optional[AccuracySection]:
    if plan.accuracy is None:
        return None
    spec = plan.accuracy.spec
    identity = DatasetIdentity(**plan.accuracy.dataset.identity(), kind=spec.kind, path=str(spec.path))
    recipe = report.loaded.recipe if report.loaded is not None else None
    evaluation = report.finished.evaluation if report.finished else None
    section = AccuracySection(
        dataset=identity,
        task=(recipe or {}).get("task") or plan.accuracy.recipe.task,
        recipe=recipe,
        samples_evaluated=evaluation.samples_done if evaluation is not None else 0,
        padded_samples=evaluation.padded if evaluation is not None else 0,
    )
    if evaluation is None or recipe is None or not evaluation.samples_done:
        return section
    if recipe["task"] == "classification":
        predictions = ClassificationPredictions(evaluation.sample_ids, evaluation.labels, evaluation.top5)
        return dataclasses.replace(section, predictions=predictions)
    return dataclasses.replace(section, predictions=sidecar)


def model(plan: RunPlan, loaded: Optional[Loaded]):
    if loaded is None:
        return plan.model
    task = (loaded.recipe or {}).get("task") or plan.model.task
    return dataclasses.replace(plan.model, inputs=list(loaded.inputs), outputs=list(loaded.outputs), task=task)


def memory(report: WorkerReport) -> Optional[Memory]:
    finished: Optional[Finished] = report.finished
    # The worker's own reading at its end; for a worker that died, the last one read from /proc.
    peak = (finished.peak_rss_bytes if finished else None) or report.peak_rss_bytes
    if peak is None and finished is None:
        return None
    return Memory(peak_rss_bytes=peak, device_peak_bytes=finished.device_peak_bytes if finished else None)


def record(
    plan: RunPlan,
    started_at: str,
    report: WorkerReport,
    ending: Ending,
    power: Optional[PowerSection],
    min_power_seconds: Optional[float] = None,
    sidecar: Optional[DetectionPredictions] = None,
) -> Record:
    loaded, identified = report.loaded, report.identified
    packages = dict(identified.packages) if identified is not None else {"numpy": np.__version__}
    return Record(
        run_id=plan.run_id,
        status=ending.status,
        started_at=started_at,
        finished_at=utc_now(),
        target=target(plan),
        host=hostinfo.collect(),
        software=Software(
            runner=__version__,
            backend=BackendId(plan.request.backend.name, identified.backend_version if identified else None),
            packages=packages,
        ),
        model=model(plan, loaded),
        precision=Precision(
            requested=plan.request.backend.precision,
            effective=loaded.effective if loaded else None,
            detail=loaded.detail if loaded else None,
        ),
        config=config(plan, report, min_power_seconds),
        error=ending.error,
        timing=timing(plan, report),
        memory=memory(report),
        power=power,
        accuracy=accuracy(plan, report, sidecar),
    )
