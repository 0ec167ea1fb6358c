"""The result record (schema vedliot-bench/result/2) as dataclasses; writer.py writes it.

schema/result.schema.json is the contract; these classes are the runner's way of filling it, and
tests/test_schema_contract.py ties every class to its part of the schema. Fields a class lists in
OMIT_IF_NONE are left out of the JSON when None (the schema wants them absent, not null).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any, Dict, List, Optional, Union

from vedliot_runner import SCHEMA_ID

Scalar = Union[str, int, float, bool, None]


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass
class ErrorInfo:
    type: str
    message: str
    stage: str = "setup"
    #: the signal that ended the worker process (SIGSEGV, SIGKILL, ...), when one did
    signal: Optional[str] = None

    OMIT_IF_NONE = ("signal",)


@dataclasses.dataclass
class Provenance:
    kind: str = "measured"
    citation: Optional[str] = None


@dataclasses.dataclass
class Target:
    name: str
    image: Optional[str] = None
    image_digest: Optional[str] = None
    power_mode: Optional[str] = None


@dataclasses.dataclass
class HostInfo:
    hostname: str
    os: str
    kernel: str
    arch: str
    cpu_model: str
    cpu_cores_logical: Optional[int]
    cpu_cores_physical: Optional[int]
    cpu_flags: List[str]
    memory_bytes: Optional[int]
    python: str
    container_id: Optional[str]
    accelerators: List[str]
    drivers: Dict[str, str]
    # What the report's CPU peak needs (cores x clock x operations per cycle), where the OS says.
    cpu_cores_usable: Optional[int] = None
    cpu_clock_base_mhz: Optional[float] = None
    cpu_clock_max_mhz: Optional[float] = None
    cpu_clock_reported_mhz: Optional[float] = None
    cpu_parts: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BackendId:
    name: str
    version: Optional[str]


@dataclasses.dataclass
class Software:
    runner: str
    backend: BackendId
    packages: Dict[str, Optional[str]]


@dataclasses.dataclass
class TensorInfo:
    name: str
    dtype: str
    # int for a fixed dimension, str for a symbolic one ("batch", "N", ...)
    shape: List[Union[int, str]]
    layout: Optional[str] = None


@dataclasses.dataclass
class OpsPerInference:
    value: float
    source: str
    note: Optional[str] = None


@dataclasses.dataclass
class ModelInfo:
    name: str
    path: Optional[str]
    sha256: Optional[str]
    size_bytes: Optional[int]
    format: str
    task: Optional[str] = None
    inputs: List[TensorInfo] = dataclasses.field(default_factory=list)
    outputs: List[TensorInfo] = dataclasses.field(default_factory=list)
    ops_per_inference: Optional[OpsPerInference] = None
    #: an int8 ONNX file's form (zoo/quantize.py INT8_FORMS), where the zoo says it
    quantization: Optional[Dict[str, Scalar]] = None


@dataclasses.dataclass
class Precision:
    requested: str
    effective: Optional[str] = None
    detail: Optional[str] = None


@dataclasses.dataclass
class RunConfig:
    batch_size: int
    mode: str
    warmup_iterations: int
    warmup_seconds: float
    min_iterations: int
    min_seconds: float
    threads: Optional[int] = None
    requests_in_flight: Optional[int] = None
    seed: Optional[int] = None
    input_shapes: Dict[str, List[int]] = dataclasses.field(default_factory=dict)
    backend_options: Dict[str, Scalar] = dataclasses.field(default_factory=dict)
    #: the --power spec, the idle period before the run and the window floor it imposed
    power: Optional[str] = None
    idle_seconds: Optional[float] = None
    min_power_seconds: Optional[float] = None
    #: --timeout: the worker is stopped after this many seconds
    timeout_s: Optional[float] = None


@dataclasses.dataclass
class Timing:
    clock: str = "monotonic_ns"
    load_ms: Optional[float] = None
    first_inference_ms: Optional[float] = None
    warmup_iterations: int = 0
    warmup_ns: int = 0
    window_start_ns: Optional[int] = None
    window_end_ns: Optional[int] = None
    window_start_unix_ns: Optional[int] = None
    iterations: int = 0
    inferences: int = 0
    requests_in_flight: int = 1
    samples_ns: List[int] = dataclasses.field(default_factory=list)
    includes_host_device_copies: Optional[bool] = None
    device_synchronized: Optional[bool] = None
    #: accuracy runs: each batch's preprocessing and post-processing, beside its inference
    preprocess_samples_ns: Optional[List[int]] = None
    postprocess_samples_ns: Optional[List[int]] = None
    #: from starting the worker process until it was ready to load (interpreter, imports)
    worker_start_ms: Optional[float] = None
    #: a self-timed backend's tool (trtexec): name, version, command and its own summary, verbatim
    tool: Optional[Dict[str, Any]] = None

    OMIT_IF_NONE = (
        "tool",
        "window_start_ns",
        "window_end_ns",
        "window_start_unix_ns",
        "preprocess_samples_ns",
        "postprocess_samples_ns",
    )


@dataclasses.dataclass
class Memory:
    peak_rss_bytes: Optional[int] = None
    device_peak_bytes: Optional[int] = None
    #: whose peak: "worker" (the run's own process) or "process" (records of schema 1, whose
    #: peak covered the whole runner process, earlier runs of a suite included)
    scope: str = "worker"


@dataclasses.dataclass
class IdlePeriod:
    start_ns: int
    end_ns: int
    start_unix_ns: int


@dataclasses.dataclass
class PowerSamples:
    t_ns: List[int]
    #: one list per rail, aligned with t_ns; None where a rail was missing from a reading
    values: Dict[str, List[Optional[float]]]


@dataclasses.dataclass
class SensorErrorInfo:
    t_ns: int
    message: str


@dataclasses.dataclass
class PowerValidity:
    samples: int
    errors: int
    window_s: Optional[float] = None
    samples_in_window: Optional[int] = None
    window_shorter_than_sensor_period: Optional[bool] = None

    OMIT_IF_NONE = ("window_s", "samples_in_window", "window_shorter_than_sensor_period")


@dataclasses.dataclass
class Telemetry:
    """What the power source also reads at each poll: clocks, temperature, load, throttle reasons."""

    #: channel -> unit ("MHz", "C", "%", "bitmask")
    units: Dict[str, str]
    t_ns: List[int]
    values: Dict[str, List[Optional[float]]]


@dataclasses.dataclass
class PowerSection:
    """Raw power samples of one source, from the idle period to the end of the timed window."""

    source: str
    spec: str
    options: Dict[str, Scalar]
    kind: str
    unit: str
    averaging: str
    interval_ms: float
    sensor_period_s: Optional[float]
    rails: List[str]
    summed: List[str]
    details: Dict[str, Any]
    idle: Optional[IdlePeriod]
    samples: PowerSamples
    errors: List[SensorErrorInfo]
    validity: PowerValidity
    telemetry: Optional[Telemetry] = None

    OMIT_IF_NONE = ("telemetry",)


@dataclasses.dataclass
class DatasetIdentity:
    """What an accuracy run evaluated: enough to find the annotations again and to tell whether
    two runs saw the same samples."""

    name: str
    split: str
    kind: str
    path: str
    samples: int
    total: int
    annotation: Optional[str] = None
    annotation_sha256: Optional[str] = None
    layout: Optional[str] = None
    label_order: Optional[str] = None
    samples_sha256: Optional[str] = None
    image_ids: Optional[List[int]] = None

    OMIT_IF_NONE = ("layout", "label_order", "samples_sha256", "image_ids")


@dataclasses.dataclass
class ClassificationPredictions:
    sample_ids: List[str]
    labels: List[int]
    top5: List[List[int]]


@dataclasses.dataclass
class DetectionPredictions:
    #: COCO results-format JSON next to the record (<run_id>.detections.json)
    detections_file: str
    detections: int
    sha256: str
    image_ids: List[int]


@dataclasses.dataclass
class AccuracySection:
    dataset: DatasetIdentity
    task: Optional[str]
    recipe: Optional[Dict[str, Any]]
    samples_evaluated: int
    padded_samples: int
    predictions: Union[ClassificationPredictions, DetectionPredictions, None] = None


@dataclasses.dataclass
class Record:
    run_id: str
    status: str
    started_at: str
    finished_at: str
    target: Target
    host: HostInfo
    software: Software
    model: ModelInfo
    precision: Precision
    config: RunConfig
    error: Optional[ErrorInfo] = None
    provenance: Provenance = dataclasses.field(default_factory=Provenance)
    timing: Optional[Timing] = None
    memory: Optional[Memory] = None
    power: Optional[PowerSection] = None
    accuracy: Optional[AccuracySection] = None
    schema: str = SCHEMA_ID

    def to_dict(self) -> Dict[str, Any]:
        data = to_dict(self)
        return {"schema": data.pop("schema"), **data}


def to_dict(value: Any) -> Any:
    """A record part as JSON-ready values, leaving out the OMIT_IF_NONE fields that are None."""
    if dataclasses.is_dataclass(value):
        omit = getattr(value, "OMIT_IF_NONE", ())
        out = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if item is None and field.name in omit:
                continue
            out[field.name] = to_dict(item)
        return out
    if isinstance(value, (list, tuple)):
        # Sample lists are long and flat: copy them without looking at every item.
        if value and not isinstance(value[0], (dict, list, tuple)) and not dataclasses.is_dataclass(value[0]):
            return list(value)
        return [to_dict(item) for item in value]
    if isinstance(value, dict):
        return {key: to_dict(item) for key, item in value.items()}
    return value
