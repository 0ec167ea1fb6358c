"""The result record (schema vedliot-bench/result/1) as dataclasses, and its atomic writer.

schema/result.schema.json is the contract; these classes are the runner's way of filling it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import tempfile
import uuid
from pathlib import Path
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


@dataclasses.dataclass
class Memory:
    peak_rss_bytes: Optional[int] = None
    device_peak_bytes: Optional[int] = None


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
    power: Optional[Dict[str, Any]] = None
    accuracy: Optional[Dict[str, Any]] = None
    schema: str = SCHEMA_ID

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        timing = data.get("timing")
        if timing is not None:
            # A window that never opened has no bounds; the schema wants both or neither.
            for key in (
                "window_start_ns",
                "window_end_ns",
                "window_start_unix_ns",
                "preprocess_samples_ns",
                "postprocess_samples_ns",
            ):
                if timing[key] is None:
                    del timing[key]
        return {"schema": data.pop("schema"), **data}


def dumps(value: Any, indent: str = "") -> str:
    """JSON with one key per line, but lists of scalars (samples, shapes) kept on one line:
    a record with 100,000 samples stays readable and a tenth of json.dumps(indent=1)'s size."""
    inner = indent + " "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ",\n".join(inner + json.dumps(k) + ": " + dumps(v, inner) for k, v in value.items())
        return "{\n" + items + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, allow_nan=False, separators=(",", ":") if isinstance(value, list) else (", ", ": "))


def write_record(record: Record, directory: Path) -> Path:
    """Write DIR/<run_id>.json atomically: a reader sees the whole record or no file at all."""
    return write_atomic(directory / (record.run_id + ".json"), dumps(record.to_dict()))


def sidecar_path(directory: Path, run_id: str, kind: str) -> Path:
    """DIR/<run_id>.<kind>.json: data too large for the record (detections), written before it."""
    return directory / "{}.{}.json".format(run_id, kind)


def write_atomic(final: Path, text: str) -> Path:
    """Write `text` (plus a newline) to `final` through a temp file and a rename."""
    directory = final.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + final.stem + ".", suffix=".tmp", dir=str(directory))
    try:
        # mkstemp makes the file private; a record is meant to be read by whoever collects it.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, str(final))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return final


def output_dir_problem(directory: Path) -> Optional[str]:
    """None when records can be written into `directory` (created if needed), else why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # os.access says yes to root on a read-only mount: only a real write tells.
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=str(directory))
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
