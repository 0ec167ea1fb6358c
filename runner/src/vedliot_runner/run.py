"""One benchmark run: validate the request, load, measure, and write exactly one record.

Argument mistakes found before anything runs raise UsageError and write nothing. From the moment
the backend is chosen, every outcome (ok, failed, unsupported, interrupted) is written as a record.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from vedliot_runner import __version__, hostinfo
from vedliot_runner.backends import backend_class
from vedliot_runner.backends.base import Backend, BackendSettings
from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    BenchError,
    ModelFileError,
    RuntimeFailure,
    UsageError,
)
from vedliot_runner.evaluate import Dataset, DatasetSpec, accuracy_section, evaluate
from vedliot_runner.inputs import synthetic_inputs
from vedliot_runner.interrupt import stop_on_signals
from vedliot_runner.measure import LoopSettings, Measurement, Progress, StopFlag, measure
from vedliot_runner.model_info import ModelRecipe, recipe_for
from vedliot_runner.power import sampler_for
from vedliot_runner.record import (
    BackendId,
    ErrorInfo,
    Memory,
    ModelInfo,
    OpsPerInference,
    Precision,
    Record,
    RunConfig,
    Software,
    Target,
    Timing,
    new_run_id,
    output_dir_problem,
    sidecar_path,
    utc_now,
    write_atomic,
    write_record,
)

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "uint8", "int4", "mixed")
MODES = ("latency", "throughput")
_FORMATS = {".onnx": "onnx", ".tflite": "tflite", ".xml": "openvino-ir", ".engine": "tensorrt-engine", ".hef": "hef"}


@dataclasses.dataclass
class RunRequest:
    #: a file path, or "zoo:NAME" for a model of the built zoo in `zoo`
    model: Path
    backend: str
    output: Path
    precision: str = "fp32"
    batch_size: int = 1
    mode: str = "latency"
    warmup_iterations: int = 10
    warmup_seconds: float = 1.0
    min_iterations: int = 100
    min_seconds: float = 10.0
    threads: Optional[int] = None
    requests_in_flight: Optional[int] = None
    seed: int = 0
    target: Optional[str] = None
    model_name: Optional[str] = None
    backend_options: Dict[str, str] = dataclasses.field(default_factory=dict)
    input_shapes: Dict[str, List[int]] = dataclasses.field(default_factory=dict)
    #: directory of a built zoo (zoo.json); default $VEDLIOT_ZOO, else build/zoo
    zoo: Optional[Path] = None
    #: operations per inference given by the user (overrides the manifest and the counter)
    ops_per_inference: Optional[float] = None
    #: accuracy mode: "imagenet:PATH" or "coco:PATH", every selected sample once
    dataset: Optional[str] = None
    #: accuracy mode: evaluate this many samples, evenly spread (0: all)
    limit: int = 0
    #: a user model's preprocessing/task description (a zoo.json model entry's shape)
    model_info: Optional[Path] = None
    #: power source "SOURCE[:key=value,...]" sampled from the idle period to the window's end
    power: Optional[str] = None
    #: idle period measured on the power source before the model loads
    idle_seconds: float = 5.0
    #: the timed window lasts at least this long when power is sampled (default: per source)
    min_power_seconds: Optional[float] = None

    @property
    def zoo_name(self) -> Optional[str]:
        text = str(self.model)
        return text[4:] if text.startswith("zoo:") else None

    def zoo_dir(self) -> Path:
        return self.zoo or Path(os.environ.get("VEDLIOT_ZOO") or "build/zoo")


@dataclasses.dataclass
class ZooModel:
    """A zoo model resolved to one file, with what the manifest says about it."""

    path: Path
    entry: Dict
    file: Dict


@dataclasses.dataclass
class RunOutcome:
    record: Record
    path: Path
    exit_code: int
    #: one line for stderr when the run is not ok
    message: Optional[str] = None


class Interrupted(Exception):
    """Names the record's error when a signal stopped the run."""


def validate(request: RunRequest) -> None:
    """Raise UsageError for anything the user can fix before a run starts."""
    if request.batch_size < 1:
        raise UsageError("--batch-size {}: must be 1 or more".format(request.batch_size))
    if request.mode not in MODES:
        raise UsageError("--mode {}: choose latency or throughput".format(request.mode))
    if request.precision not in PRECISIONS:
        raise UsageError("--precision {}: choose from {}".format(request.precision, ", ".join(PRECISIONS)))
    for name in ("warmup_iterations", "warmup_seconds", "min_seconds"):
        if getattr(request, name) < 0:
            raise UsageError("--{} {}: must not be negative".format(name.replace("_", "-"), getattr(request, name)))
    if request.min_iterations < 1:
        raise UsageError("--min-iterations {}: must be 1 or more".format(request.min_iterations))
    for name in ("threads", "requests_in_flight"):
        value = getattr(request, name)
        if value is not None and value < 1:
            option = "--requests" if name == "requests_in_flight" else "--threads"
            raise UsageError("{} {}: must be 1 or more".format(option, value))
    if request.ops_per_inference is not None and request.ops_per_inference <= 0:
        raise UsageError("--ops-per-inference {}: must be positive".format(request.ops_per_inference))
    if request.zoo_name is None:
        if not request.model.exists():
            raise UsageError("--model {}: no such file".format(request.model))
        if not request.model.is_file():
            raise UsageError("--model {}: not a file".format(request.model))
    for name in ("idle_seconds", "min_power_seconds"):
        value = getattr(request, name)
        if value is not None and value < 0:
            raise UsageError("--{} {}: must not be negative".format(name.replace("_", "-"), value))
    if request.limit < 0:
        raise UsageError("--limit {}: must be 0 (all samples) or more".format(request.limit))
    if request.dataset is None and (request.limit or request.model_info is not None):
        option = "--limit" if request.limit else "--model-info"
        raise UsageError("{} only applies to accuracy runs: add --dataset imagenet:PATH or coco:PATH".format(option))
    if request.dataset is not None:
        DatasetSpec.parse(request.dataset)
    if request.dataset is not None and request.zoo_name is None and request.model_info is None:
        raise UsageError(
            "--dataset with a model file needs --model-info FILE.json (task, preprocessing, layout; "
            "see docs/accuracy.md), or use a zoo:NAME model"
        )
    if request.model_info is not None and not request.model_info.is_file():
        raise UsageError("--model-info {}: no such file".format(request.model_info))
    if request.dataset is not None and request.mode == "throughput":
        raise UsageError("--mode throughput: accuracy runs (--dataset) evaluate one batch at a time; drop --mode")
    problem = output_dir_problem(request.output)
    if problem:
        raise UsageError("--output {}: cannot write records there ({})".format(request.output, problem))


def _target(request: RunRequest) -> Target:
    # Images set these so a record names the container it came from.
    return Target(
        name=request.target or os.environ.get("VEDLIOT_TARGET") or "local",
        image=os.environ.get("VEDLIOT_IMAGE") or None,
        image_digest=os.environ.get("VEDLIOT_IMAGE_DIGEST") or None,
        power_mode=os.environ.get("VEDLIOT_POWER_MODE") or None,
    )


def _timing(m: Measurement, load_ns: Optional[int], batch_size: int, backend: Backend) -> Timing:
    return Timing(
        load_ms=load_ns / 1e6 if load_ns is not None else None,
        first_inference_ms=m.first_inference_ns / 1e6 if m.first_inference_ns is not None else None,
        warmup_iterations=m.warmup_iterations,
        warmup_ns=m.warmup_ns,
        window_start_ns=m.window_start_ns,
        # A window that opened but saw no completion closes where it opened.
        window_end_ns=m.window_end_ns if m.window_end_ns is not None else m.window_start_ns,
        window_start_unix_ns=m.window_start_unix_ns,
        iterations=m.iterations,
        inferences=m.iterations * batch_size,
        requests_in_flight=m.requests_in_flight,
        samples_ns=list(m.samples_ns),
        includes_host_device_copies=backend.includes_host_device_copies,
        device_synchronized=True,
    )


def resolve_zoo(request: RunRequest) -> Optional[ZooModel]:
    """The zoo file a "zoo:NAME" model means for this backend and precision (UsageError if absent)."""
    if request.zoo_name is None:
        return None
    from vedliot_runner.backends import REGISTRY
    from vedliot_runner.zoo import manifest

    entry = REGISTRY.get(request.backend)
    if entry is None:
        backend_class(request.backend)  # raises the usual "unknown backend" error
    precision = request.precision
    if precision in entry.converts:
        # The backend makes this precision itself (OpenVINO's bf16 hint): its own file if the zoo
        # has one, else the fp32 file.
        data = manifest.load(request.zoo_dir())
        if manifest.find_file(data["models"].get(request.zoo_name, {}), entry.format, precision) is None:
            precision = "fp32"
    path, model_entry, file_entry = manifest.resolve(request.zoo_dir(), request.zoo_name, entry.format, precision)
    return ZooModel(path, model_entry, file_entry)


def _ops(request: RunRequest, path: Path, zoo: Optional[ZooModel]) -> Optional[OpsPerInference]:
    if request.ops_per_inference is not None:
        return OpsPerInference(request.ops_per_inference, "given")
    if zoo is not None:
        ops = zoo.entry.get("ops_per_inference")
        if ops:
            note = "zoo manifest, {}: {}".format(ops["source"], ops.get("note") or "")
            return OpsPerInference(float(ops["value"]), "manifest", note.rstrip(": "))
        return None
    if path.suffix.lower() != ".onnx":
        return None
    try:
        from vedliot_runner import ops as ops_counter

        counted = ops_counter.count(path)
    except Exception:  # noqa: BLE001 - no count is better than no run; the backend reports bad files
        return None
    if counted.macs <= 0:
        return None
    note = "{} MACs".format(counted.macs)
    if counted.unresolved:
        note += "; {} nodes with unknown shapes not counted".format(len(counted.unresolved))
    return OpsPerInference(float(2 * counted.macs), "counted", note)


def execute(request: RunRequest, progress: Optional[Progress] = None, stop: Optional[StopFlag] = None) -> RunOutcome:
    validate(request)
    zoo = resolve_zoo(request)
    sampler = sampler_for(request.power)  # UsageError: unknown source or option
    accuracy: Optional[AccuracyJob] = None
    if request.dataset is not None:
        spec = DatasetSpec.parse(request.dataset)
        accuracy = AccuracyJob(spec, spec.load(request.limit))
    path = zoo.path if zoo is not None else request.model
    started_at = utc_now()
    stop = stop or StopFlag()
    model = ModelInfo(
        name=request.model_name or request.zoo_name or request.model.stem,
        path=str(path),
        sha256=sha256_of(path),
        size_bytes=path.stat().st_size,
        format=_FORMATS.get(path.suffix.lower(), "other"),
        task=zoo.entry.get("task") if zoo is not None else None,
        ops_per_inference=_ops(request, path, zoo),
    )
    config = RunConfig(
        batch_size=request.batch_size,
        mode="accuracy" if accuracy is not None else request.mode,
        warmup_iterations=request.warmup_iterations,
        warmup_seconds=request.warmup_seconds,
        min_iterations=request.min_iterations,
        min_seconds=request.min_seconds,
        threads=request.threads,
        requests_in_flight=request.requests_in_flight,
        seed=request.seed,
        backend_options=dict(request.backend_options),
        power=request.power if sampler is not None else None,
        idle_seconds=request.idle_seconds if sampler is not None else None,
    )
    record = Record(
        run_id=new_run_id(),
        status="ok",
        started_at=started_at,
        finished_at=started_at,
        target=_target(request),
        host=hostinfo.collect(),
        software=Software(
            runner=__version__, backend=BackendId(request.backend, None), packages={"numpy": np.__version__}
        ),
        model=model,
        precision=Precision(requested=request.precision),
        config=config,
    )

    if accuracy is not None:
        # Said up front so that a run that fails before its first sample still names its data.
        record.accuracy = accuracy_section(accuracy.dataset, accuracy.spec, None, None, None)
        if zoo is not None:
            record.accuracy["task"] = zoo.entry.get("task")

    def finish(exit_code: int, error: Optional[BaseException] = None, stage: str = "setup") -> RunOutcome:
        message = None
        if error is not None:
            message = str(error)
            record.error = ErrorInfo(type=type(error).__name__, message=message, stage=stage)
        if sampler is not None and sampler.started:
            sampler.stop()
            timing = record.timing
            window = None
            if timing is not None and timing.window_start_ns is not None and timing.iterations:
                window = (timing.window_start_ns, timing.window_end_ns)
            record.power = sampler.to_record(window)
        record.finished_at = utc_now()
        record.memory = Memory(peak_rss_bytes=hostinfo.peak_rss_bytes())
        return RunOutcome(
            record=record, path=write_record(record, request.output), exit_code=exit_code, message=message
        )

    try:
        cls = backend_class(request.backend)
    except BenchError as exc:
        if isinstance(exc, UsageError):
            raise
        record.status = exc.status
        return finish(exc.exit_code, exc)
    settings = BackendSettings(
        options=request.backend_options,
        threads=request.threads,
        mode=request.mode,
        batch_size=request.batch_size,
        precision=request.precision,
        input_shapes=request.input_shapes,
    )
    backend = cls(settings)  # UsageError: bad option, no record
    with stop_on_signals(stop):
        if sampler is not None:
            sampler.start()  # UsageError: the sensor cannot be read, no record
            record.config.min_power_seconds = sampler.window_floor_s(request.min_power_seconds)
            sampler.measure_idle(request.idle_seconds, lambda: stop.requested)
        return _run_loaded(request, path, zoo, record, backend, finish, progress, stop, accuracy)


@dataclasses.dataclass
class AccuracyJob:
    spec: DatasetSpec
    dataset: Dataset
    recipe: Optional[ModelRecipe] = None


def _run_loaded(request, path, zoo, record, backend, finish, progress, stop, accuracy) -> RunOutcome:
    record.software.backend = BackendId(backend.name, backend.version())
    record.software.packages.update(backend.packages())
    try:
        load_start = time.monotonic_ns()
        try:
            record.model.inputs, record.model.outputs = backend.load(path)
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a backend's own load failure
            raise ModelFileError("{}: {} could not load it: {}".format(path, backend.name, exc)) from None
        if zoo is not None:
            for tensor in record.model.inputs:
                tensor.layout = zoo.file.get("layout")
        load_ns = time.monotonic_ns() - load_start
        effective, detail = backend.effective_precision()
        record.precision = Precision(requested=request.precision, effective=effective, detail=detail)
        record.config.backend_options = backend.resolved_options()
        record.config.requests_in_flight = (
            request.requests_in_flight or backend.default_requests_in_flight() if request.mode == "throughput" else 1
        )
        if accuracy is not None:
            accuracy.recipe = recipe_for(
                record.model.inputs, zoo.entry if zoo else None, zoo.file if zoo else None, request.model_info
            )
            record.model.task = accuracy.recipe.task
        else:
            feeds = synthetic_inputs(record.model.inputs, request.batch_size, request.seed, request.input_shapes)
            record.config.input_shapes = {name: list(array.shape) for name, array in feeds.items()}
    except BenchError as exc:
        record.status = exc.status
        backend.close()
        return finish(exc.exit_code, exc, stage="load")
    if accuracy is not None:
        return _run_accuracy(request, record, backend, finish, progress, stop, accuracy, load_ns)

    settings = LoopSettings(
        mode=request.mode,
        batch_size=request.batch_size,
        warmup_iterations=request.warmup_iterations,
        warmup_seconds=request.warmup_seconds,
        min_iterations=request.min_iterations,
        # A power sensor needs a long enough window (NVML averages over 1 s, RECS reads at 1 Hz).
        min_seconds=max(request.min_seconds, record.config.min_power_seconds or 0.0),
        requests_in_flight=record.config.requests_in_flight,
    )
    result = measure(backend, feeds, settings, stop, progress)
    backend.close()
    record.timing = _timing(result, load_ns, request.batch_size, backend)
    return _conclude(
        record,
        finish,
        result,
        lambda line: "{} failed during {}: {}".format(backend.name, result.stopped_in, line),
        "stopped by {} during {} after {} timed iterations".format(
            stop.reason or "a signal", result.stopped_in, result.iterations
        ),
    )


def _conclude(record, finish, m: Measurement, failure: Callable[[str], str], interrupted: str) -> RunOutcome:
    """The record's ending, from where the loop (or the accuracy pass) stopped: failed, with the
    error's first line in `failure`'s words; interrupted, saying `interrupted`; or ok."""
    if m.error is not None:
        record.status = "failed"
        first_line = (str(m.error).strip().splitlines() or [type(m.error).__name__])[0]
        # A BenchError keeps its own code (an unreadable image is the user's to fix: 2).
        code = m.error.exit_code if isinstance(m.error, BenchError) else RuntimeFailure.exit_code
        outcome = finish(code, m.error, stage=m.stopped_in or "timed")
        outcome.message = failure(first_line)
        return outcome
    if m.interrupted:
        record.status = "interrupted"
        return finish(EXIT_INTERRUPTED, Interrupted(interrupted), stage=m.stopped_in or "timed")
    return finish(EXIT_OK)


def _run_accuracy(request, record, backend, finish, progress, stop, job: AccuracyJob, load_ns: int) -> RunOutcome:
    loop = LoopSettings(
        mode="latency",
        batch_size=request.batch_size,
        warmup_iterations=request.warmup_iterations,
        warmup_seconds=request.warmup_seconds,
        min_iterations=1,
        min_seconds=0.0,
    )
    result = evaluate(
        backend, record.model.inputs[0], record.model.outputs, job.recipe, job.dataset, loop, stop, progress
    )
    backend.close()
    m = result.timing
    batches = len(m.samples_ns)
    # Every sample once: the pass's size, not a time or iteration floor, decides its length.
    record.config.min_iterations = max(1, -(-_sample_count(job) // request.batch_size))
    record.config.min_seconds = 0.0
    if result.input_shape is not None:
        record.config.input_shapes = {record.model.inputs[0].name: result.input_shape}
    record.timing = _timing(m, load_ns, request.batch_size, backend)
    record.timing.inferences = result.samples_done if batches else 0
    record.timing.preprocess_samples_ns = result.preprocess_ns
    record.timing.postprocess_samples_ns = result.postprocess_ns
    sidecar = None
    if job.recipe.task == "detection":
        path = sidecar_path(request.output, record.run_id, "detections")
        write_atomic(path, json.dumps(result.detections, separators=(",", ":")))
        sidecar = {"detections_file": path.name, "detections": len(result.detections), "sha256": sha256_of(path)}
    record.accuracy = accuracy_section(job.dataset, job.spec, job.recipe, result, sidecar)
    return _conclude(
        record,
        finish,
        m,
        lambda line: "{} after {} samples: {}".format(m.stopped_in, result.samples_done, line),
        "stopped by {} after {} of {} samples".format(
            stop.reason or "a signal", result.samples_done, _sample_count(job)
        ),
    )


def _sample_count(job: AccuracyJob) -> int:
    return len(job.dataset.samples) if job.recipe.task == "classification" else len(job.dataset.images)
