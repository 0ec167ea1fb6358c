"""What a run is asked to do, split by what each part configures: the model, the backend, the
measurement loop (measure.LoopSettings), power and accuracy; and the checks that turn every
mistake a user can fix into a UsageError before anything runs."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Dict, List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.evaluate import DatasetSpec
from vedliot_runner.measure import LoopSettings
from vedliot_runner.options import MAX_REQUESTS, MAX_SECONDS, MAX_THREADS
from vedliot_runner.writer import output_dir_problem, unmounted_problem

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "uint8", "int4", "mixed")
MODES = ("latency", "throughput")


@dataclasses.dataclass(frozen=True)
class ModelRequest:
    #: a file path, or "zoo:NAME" for a model of the built zoo in `zoo`
    model: Path
    #: directory of a built zoo (zoo.json); default $VEDLIOT_ZOO, else build/zoo
    zoo: Optional[Path] = None
    #: model name in the record (default: the zoo name or the file name without extension)
    name: Optional[str] = None
    #: operations per inference given by the user (overrides the manifest and the counter)
    ops_per_inference: Optional[float] = None
    #: shapes for inputs with symbolic dimensions besides the batch
    input_shapes: Dict[str, List[int]] = dataclasses.field(default_factory=dict)

    @property
    def zoo_name(self) -> Optional[str]:
        text = str(self.model)
        return text[4:] if text.startswith("zoo:") else None

    def zoo_dir(self) -> Path:
        return self.zoo or Path(os.environ.get("VEDLIOT_ZOO") or "build/zoo")


@dataclasses.dataclass(frozen=True)
class BackendRequest:
    name: str
    precision: str = "fp32"
    #: --backend-option KEY=VALUE strings, parsed into the backend's Options before the run
    options: Dict[str, str] = dataclasses.field(default_factory=dict)
    threads: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class PowerRequest:
    #: "SOURCE[:key=value,...]", sampled from the idle period to the window's end
    spec: Optional[str] = None
    #: idle period measured on the source before the worker starts
    idle_seconds: float = 5.0
    #: the timed window lasts at least this long (default: per source)
    min_power_seconds: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class AccuracyRequest:
    #: "imagenet:PATH" or "coco:PATH": every selected sample once
    dataset: str
    #: this many samples, evenly spread (0: all)
    limit: int = 0
    #: a user model's preprocessing/task description (a zoo.json model entry's shape)
    model_info: Optional[Path] = None


@dataclasses.dataclass(frozen=True)
class RunRequest:
    model: ModelRequest
    backend: BackendRequest
    loop: LoopSettings
    output: Path
    power: PowerRequest = dataclasses.field(default_factory=PowerRequest)
    accuracy: Optional[AccuracyRequest] = None
    seed: int = 0
    #: target name in the record (default $VEDLIOT_TARGET, else "local")
    target: Optional[str] = None
    #: the platform's power mode for the record (default $VEDLIOT_POWER_MODE; Jetson suites: nvpmodel's)
    power_mode: Optional[str] = None
    #: the worker is stopped after this many seconds (None: no limit)
    timeout_s: Optional[float] = None


def _seconds(option: str, value: Optional[float], minimum: float = 0.0, allow_zero: bool = True) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and value <= MAX_SECONDS and (value >= minimum if allow_zero else value > minimum)
    if not ok:
        lowest = "0" if allow_zero else "more than 0"
        raise UsageError("{} {}: expected a finite number of seconds from {} to {:.0f}".format(
            option, value, lowest, MAX_SECONDS))  # fmt: skip


def _count(option: str, value: Optional[int], minimum: int, maximum: Optional[int] = None) -> None:
    if value is None:
        return
    if value < minimum or (maximum is not None and value > maximum):
        bound = "from {} to {}".format(minimum, maximum) if maximum is not None else "of {} or more".format(minimum)
        raise UsageError("{} {}: expected a whole number {}".format(option, value, bound))


def validate_loop(loop: LoopSettings) -> None:
    if loop.mode not in MODES:
        raise UsageError("--mode {}: choose latency or throughput".format(loop.mode))
    _count("--batch-size", loop.batch_size, 1)
    _count("--warmup-iterations", loop.warmup_iterations, 0)
    _count("--min-iterations", loop.min_iterations, 1)
    _count("--requests", loop.requests_in_flight, 1, MAX_REQUESTS)
    _seconds("--warmup-seconds", loop.warmup_seconds)
    _seconds("--min-seconds", loop.min_seconds)


def _validate_model(model: ModelRequest) -> None:
    ops = model.ops_per_inference
    if ops is not None and not (math.isfinite(ops) and ops > 0):
        raise UsageError("--ops-per-inference {}: expected a positive finite number".format(ops))
    if model.zoo_name is None:
        if not model.model.exists():
            raise UsageError("--model {}: no such file".format(model.model))
        if not model.model.is_file():
            raise UsageError("--model {}: not a file".format(model.model))
        if not os.access(str(model.model), os.R_OK):
            raise UsageError("--model {}: not readable by this user".format(model.model))
    elif not model.zoo_name:
        raise UsageError("--model zoo:: name a zoo model, e.g. zoo:resnet50")


def _validate_accuracy(request: RunRequest) -> None:
    accuracy = request.accuracy
    if accuracy is None:
        return
    _count("--limit", accuracy.limit, 0)
    DatasetSpec.parse(accuracy.dataset)
    if request.model.zoo_name is None and accuracy.model_info is None:
        raise UsageError(
            "--dataset with a model file needs --model-info FILE.json (task, preprocessing, layout; "
            "see docs/accuracy.md), or use a zoo:NAME model"
        )
    if accuracy.model_info is not None and not accuracy.model_info.is_file():
        raise UsageError("--model-info {}: no such file".format(accuracy.model_info))
    if request.loop.mode == "throughput":
        raise UsageError("--mode throughput: accuracy runs (--dataset) evaluate one batch at a time; drop --mode")


def validate(request: RunRequest) -> None:
    """Raise UsageError for anything the user can fix before a run starts."""
    validate_loop(request.loop)
    if request.backend.precision not in PRECISIONS:
        raise UsageError("--precision {}: choose from {}".format(request.backend.precision, ", ".join(PRECISIONS)))
    _count("--threads", request.backend.threads, 1, MAX_THREADS)
    _count("--seed", request.seed, 0)
    _validate_model(request.model)
    _seconds("--idle-seconds", request.power.idle_seconds)
    _seconds("--min-power-seconds", request.power.min_power_seconds)
    _seconds("--timeout", request.timeout_s, allow_zero=False)
    _validate_accuracy(request)
    problem = output_dir_problem(request.output)
    if problem:
        raise UsageError("--output {}: cannot write records there ({})".format(request.output, problem))
    problem = unmounted_problem(request.output)
    if problem:
        raise UsageError("--output {}: {}".format(request.output, problem))
