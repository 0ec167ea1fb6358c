"""Records as the aggregator reads them: typed, frozen views of a valid record (schema 2, older
versions migrated first by collect.py). Every module reads records through these classes, so a
field's name and type live here once, next to the schema they mirror.

`load()` builds them from a validated dict by the classes' type hints; long sample lists are
taken as they are, not copied item by item.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, Union


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorInfo:
    type: str
    message: str
    stage: str | None = None
    signal: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Published:
    table: int | None = None
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Imported:
    tool: str | None = None
    file: str | None = None
    sha256: str | None = None
    tool_version: str | None = None
    command: str | None = None
    files: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    tool_summary: dict[str, str] = dataclasses.field(default_factory=dict)
    groups: list[dict[str, str]] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class Provenance:
    kind: str = "measured"
    citation: str | None = None
    published: Published | None = None
    imported: Imported | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    name: str
    image: str | None = None
    image_digest: str | None = None
    power_mode: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class BackendId:
    name: str
    version: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Software:
    runner: str
    backend: BackendId
    packages: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Ops:
    value: float
    source: str
    note: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Model:
    name: str
    path: str | None = None
    sha256: str | None = None
    format: str = "other"
    task: str | None = None
    size_bytes: int | None = None
    inputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    outputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    ops_per_inference: Ops | None = None
    quantization: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Precision:
    requested: str
    effective: str | None = None
    detail: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    batch_size: int
    mode: str
    warmup_iterations: int = 0
    warmup_seconds: float = 0.0
    min_iterations: int = 1
    min_seconds: float = 0.0
    threads: int | None = None
    requests_in_flight: int | None = None
    seed: int | None = None
    input_shapes: dict[str, Any] = dataclasses.field(default_factory=dict)
    backend_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    power: str | None = None
    idle_seconds: float | None = None
    min_power_seconds: float | None = None
    timeout_s: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    clock: str = "monotonic_ns"
    iterations: int = 0
    inferences: int = 0
    load_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_iterations: int = 0
    warmup_ns: int = 0
    window_start_ns: int | None = None
    window_end_ns: int | None = None
    window_start_unix_ns: int | None = None
    requests_in_flight: int = 1
    samples_ns: list[int] = dataclasses.field(default_factory=list)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    includes_host_device_copies: bool | None = None
    device_synchronized: bool | None = None
    preprocess_samples_ns: list[int] | None = None
    postprocess_samples_ns: list[int] | None = None
    worker_start_ms: float | None = None
    tool: dict[str, Any] | None = None

    @property
    def window_s(self) -> float | None:
        """The timed window in seconds; None when no window opened or nothing completed in it."""
        if self.window_start_ns is None or self.window_end_ns is None or not self.iterations:
            return None
        return (self.window_end_ns - self.window_start_ns) / 1e9


@dataclasses.dataclass(frozen=True, slots=True)
class Memory:
    peak_rss_bytes: int | None = None
    device_peak_bytes: int | None = None
    scope: str = "worker"


@dataclasses.dataclass(frozen=True, slots=True)
class IdlePeriod:
    start_ns: int
    end_ns: int
    start_unix_ns: int


@dataclasses.dataclass(frozen=True, slots=True)
class PowerSamples:
    t_ns: list[int]
    values: dict[str, list[float | None]]


@dataclasses.dataclass(frozen=True, slots=True)
class SensorError:
    t_ns: int
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class PowerValidity:
    samples: int = 0
    errors: int = 0
    window_s: float | None = None
    samples_in_window: int | None = None
    window_shorter_than_sensor_period: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Telemetry:
    units: dict[str, str]
    t_ns: list[int]
    values: dict[str, list[float | None]]


@dataclasses.dataclass(frozen=True, slots=True)
class Power:
    """Raw samples of one power source (`--power`)."""

    source: str
    kind: str
    unit: str
    rails: list[str]
    summed: list[str]
    samples: PowerSamples
    idle: IdlePeriod | None
    errors: list[SensorError]
    validity: PowerValidity
    spec: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    averaging: str = "instant"
    interval_ms: float = 100.0
    sensor_period_s: float | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    telemetry: Telemetry | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PowerSummary:
    """Published or imported power: figures without samples."""

    source: str
    kind: str
    summary: dict[str, Any]

    @property
    def power_w(self) -> float | None:
        return self.summary.get("power_w")

    @property
    def idle_power_w(self) -> float | None:
        return self.summary.get("idle_power_w")


@dataclasses.dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    split: str
    samples: int
    kind: str
    path: str | None = None
    total: int | None = None
    layout: str | None = None
    label_order: str | None = None
    annotation: str | None = None
    annotation_sha256: str | None = None
    samples_sha256: str | None = None
    image_ids: list[int] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ClassificationPredictions:
    sample_ids: list[str]
    labels: list[int]
    top5: list[list[int]]


@dataclasses.dataclass(frozen=True, slots=True)
class DetectionPredictions:
    detections_file: str
    detections: int
    sha256: str
    image_ids: list[int]


@dataclasses.dataclass(frozen=True, slots=True)
class Accuracy:
    dataset: Dataset
    task: str | None
    samples_evaluated: int
    predictions: ClassificationPredictions | DetectionPredictions | None = None
    recipe: dict[str, Any] | None = None
    padded_samples: int = 0
    summary: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    schema: str
    run_id: str
    status: str
    error: ErrorInfo | None
    started_at: str
    finished_at: str
    provenance: Provenance
    target: Target
    host: dict[str, Any]
    software: Software
    model: Model
    precision: Precision
    config: Config
    timing: Timing | None
    memory: Memory | None
    power: Power | PowerSummary | None
    accuracy: Accuracy | None

    @property
    def backend(self) -> str:
        return self.software.backend.name


# -- building them ------------------------------------------------------------------------------

#: unions told apart by a field only one member has, or a field's value
_DISCRIMINATORS = {
    frozenset({Power, PowerSummary}): lambda data: PowerSummary if data.get("kind") == "summary" else Power,
    frozenset({ClassificationPredictions, DetectionPredictions}): lambda data: (
        DetectionPredictions if "detections_file" in data else ClassificationPredictions
    ),
}


@functools.cache
def _converter(hint: Any) -> Callable[[Any], Any] | None:
    """How a field of this type is built from its JSON value; None: the value as it is (most
    fields, and the long sample lists, which are neither copied nor walked)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [m for m in typing.get_args(hint) if m is not type(None)]
        if len(members) == 1:
            return _converter(members[0])
        choose = _DISCRIMINATORS[frozenset(members)]
        return lambda value: build(choose(value), value)
    if dataclasses.is_dataclass(hint):
        return functools.partial(build, hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        if dataclasses.is_dataclass(item):
            return lambda value: [build(item, v) for v in value]
    return None


@functools.cache
def _plan(cls: type) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    # Resolved once per class: get_type_hints and get_origin per value took most of a load.
    hints = typing.get_type_hints(cls)
    return tuple((field.name, _converter(hints[field.name])) for field in dataclasses.fields(cls))


def build(cls: type, data: dict[str, Any]) -> Any:
    """`data` (a valid record's part) as the dataclass `cls`; absent optional fields take defaults."""
    values = {}
    for name, convert in _plan(cls):
        if name in data:
            value = data[name]
            values[name] = convert(value) if convert is not None and value is not None else value
    return cls(**values)


def load(data: dict[str, Any]) -> Record:
    """A validated record dict as a Record."""
    return build(Record, data)
