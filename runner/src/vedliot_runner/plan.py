"""Preparing a run in the parent process, before any worker starts: every check a user can act
on (UsageError: exit 2, nothing written), and the values the run is made of: the model file and
what the record says about it, the backend's typed options, the power sampler, the dataset and
its recipe, and the job the worker will get."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, Optional

from vedliot_runner.backends import backend_type, entry_of, missing_requirement
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError
from vedliot_runner.evaluate import DatasetSpec
from vedliot_runner.model_info import RecipeSource, from_zoo, read_info
from vedliot_runner.power import sampler_for
from vedliot_runner.power.sampler import Sampler
from vedliot_runner.protocol import AccuracyJob, WorkerJob
from vedliot_runner.record import ModelInfo, OpsPerInference, new_run_id
from vedliot_runner.request import RunRequest, validate

FORMATS = {".onnx": "onnx", ".tflite": "tflite", ".xml": "openvino-ir", ".engine": "tensorrt-engine", ".hef": "hef",
           ".xmodel": "xmodel"}  # fmt: skip
#: the task each dataset kind evaluates
DATASET_TASKS = {"imagenet": "classification", "coco": "detection"}


@dataclasses.dataclass(frozen=True)
class ZooModel:
    """A zoo model resolved to one file, with what the manifest says about it."""

    path: Path
    entry: Dict[str, Any]
    file: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class AccuracyPlan:
    spec: DatasetSpec
    dataset: Any
    recipe: RecipeSource


@dataclasses.dataclass(frozen=True)
class RunPlan:
    request: RunRequest
    model: ModelInfo
    #: the backend's Options, parsed from --backend-option
    options: Any
    sampler: Optional[Sampler]
    accuracy: Optional[AccuracyPlan]
    job: WorkerJob
    #: the record's id, known before it is written (a detections sidecar is named after it)
    run_id: str = dataclasses.field(default_factory=new_run_id)
    #: why the backend cannot run here at all (not installed): the run is an `unsupported` record
    missing: Optional[str] = None


def resolve_zoo(request: RunRequest) -> Optional[ZooModel]:
    """The zoo file a "zoo:NAME" model means for this backend and precision (UsageError if absent)."""
    name = request.model.zoo_name
    if name is None:
        return None
    from vedliot_runner.zoo import manifest

    entry = entry_of(request.backend.name)
    directory = request.model.zoo_dir()
    precision = request.backend.precision
    if precision in entry.converts:
        # The backend makes this precision itself (OpenVINO's bf16 hint): its own file if the zoo
        # has one, else the fp32 file.
        data = manifest.load(directory)
        if manifest.find_file(data["models"].get(name, {}), entry.format, precision) is None:
            precision = "fp32"
    path, model_entry, file_entry = manifest.resolve(directory, name, entry.format, precision, entry.int8_form)
    return ZooModel(path, model_entry, file_entry)


def ops_of(request: RunRequest, path: Path, zoo: Optional[ZooModel]) -> Optional[OpsPerInference]:
    if request.model.ops_per_inference is not None:
        return OpsPerInference(request.model.ops_per_inference, "given")
    if zoo is not None:
        ops = zoo.entry.get("ops_per_inference")
        if ops:
            note = "zoo manifest, {}: {}".format(ops.get("source"), ops.get("note") or "")
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


def _accuracy(request: RunRequest, zoo: Optional[ZooModel]) -> Optional[AccuracyPlan]:
    if request.accuracy is None:
        return None
    spec = DatasetSpec.parse(request.accuracy.dataset)
    if request.accuracy.model_info is not None:
        recipe = read_info(request.accuracy.model_info)
    else:
        assert zoo is not None  # request.validate: a model file needs --model-info
        recipe = from_zoo(zoo.entry, zoo.file)
    wanted = DATASET_TASKS[spec.kind]
    if recipe.task != wanted:
        other = next(kind for kind, task in DATASET_TASKS.items() if task == recipe.task)
        raise UsageError(
            "--dataset {}: {} evaluates {} models, and this one is a {} model; use --dataset {}:DIR".format(
                request.accuracy.dataset, spec.kind, wanted, recipe.task, other
            )
        )
    return AccuracyPlan(spec, spec.load(request.accuracy.limit), recipe)


def format_of(path: Path) -> str:
    if path.name.lower().endswith("_edgetpu.tflite"):
        return "edgetpu"  # edgetpu_compiler's output name
    return FORMATS.get(path.suffix.lower(), "other")


def _model_info(request: RunRequest, path: Path, zoo: Optional[ZooModel], task: Optional[str]) -> ModelInfo:
    return ModelInfo(
        name=request.model.name or request.model.zoo_name or request.model.model.stem,
        path=str(path),
        sha256=sha256_of(path),
        size_bytes=path.stat().st_size,
        format=format_of(path),
        task=task or (zoo.entry.get("task") if zoo is not None else None),
        ops_per_inference=ops_of(request, path, zoo),
        quantization=_int8_form(zoo),
    )


def _int8_form(zoo: Optional[ZooModel]) -> Optional[Dict[str, Any]]:
    """The int8 form of a zoo ONNX file (activation and weight types, per channel), as the zoo made it."""
    from vedliot_runner.zoo import manifest

    form = manifest.form_of(zoo.file) if zoo is not None else None
    if form is None:
        return None
    from vedliot_runner.zoo.quantize import INT8_FORMS

    return dict(zoo.file.get("int8_form") or INT8_FORMS[form])


def prepare(request: RunRequest) -> RunPlan:
    """Check the request and work out the run (UsageError for anything the user can fix)."""
    validate(request)
    options = backend_type(request.backend.name).parse_options(request.backend.options)
    zoo = resolve_zoo(request)
    sampler = sampler_for(request.power.spec)
    accuracy = _accuracy(request, zoo)
    path = zoo.path if zoo is not None else request.model.model
    settings = BackendSettings(
        options=options,
        threads=request.backend.threads,
        mode=request.loop.mode,
        batch_size=request.loop.batch_size,
        precision=request.backend.precision,
        input_shapes=dict(request.model.input_shapes),
    )
    job = WorkerJob(
        backend=request.backend.name,
        settings=settings,
        model_path=path,
        layout=zoo.file.get("layout") if zoo is not None else None,
        loop=request.loop,
        seed=request.seed,
        accuracy=AccuracyJob(accuracy.dataset, accuracy.recipe) if accuracy is not None else None,
    )
    return RunPlan(
        request=request,
        model=_model_info(request, path, zoo, accuracy.recipe.task if accuracy else None),
        options=options,
        sampler=sampler,
        accuracy=accuracy,
        job=job,
        missing=missing_requirement(request.backend.name) or _cannot_evaluate(request.backend.name, accuracy),
    )


def _cannot_evaluate(backend: str, accuracy: Optional[AccuracyPlan]) -> Optional[str]:
    """A self-timed backend (a vendor's benchmark tool) keeps no outputs to score."""
    if accuracy is not None and getattr(backend_type(backend), "self_timed", False):
        return "backend '{}' times itself and keeps no outputs: run accuracy with the backend that has them".format(
            backend
        )
    return None
