"""`vedliot-runner suite --target NAME`: a target's default matrix, as in the report's tables.

The three seed models x the precisions the target supports x (batch 1, latency mode; batch 8,
throughput mode). It goes on past failures: every combination leaves a record, the report's "-"
cells included. A signal stops the current run (its record says `interrupted`) and the suite.

With `--datasets DIR` (the images mount /data there), each model is also evaluated once per
precision on its dataset where DIR holds one: DIR/imagenet (any layout `--dataset imagenet:`
reads) for the classifiers, DIR/coco for YoloV4; a missing one is skipped with a line saying so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from vedliot_runner.backends import REGISTRY, backend_type
from vedliot_runner.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, BenchError, UsageError
from vedliot_runner.measure import LoopSettings, Progress, StopFlag
from vedliot_runner.plan import resolve_zoo
from vedliot_runner.record import ClassificationPredictions, DetectionPredictions
from vedliot_runner.request import AccuracyRequest, BackendRequest, ModelRequest, PowerRequest, RunRequest
from vedliot_runner.run import RunOutcome, execute

SEED_MODELS = ("resnet50", "mobilenetv3_small", "yolov4")
#: (batch size, mode): batch 1 for the lowest latency, batch 8 for throughput (D3.3 §3.1.2.3)
CONFIGS = ((1, "latency"), (8, "throughput"))
EDGE_MODELS = ("resnet50", "mobilenetv3_small")
#: a Xilinx DPU's batch is its hardware's (None: read from a runner); latency mode runs one runner,
#: throughput mode one per thread (D3.3 §3.4.18.3: single- and multi-threaded)
DEVICE_BATCH = ((None, "latency"), (None, "throughput"))


@dataclasses.dataclass(frozen=True)
class TargetSuite:
    name: str
    backend: str
    precisions: Tuple[str, ...]
    options: Tuple[Tuple[str, str], ...] = ()
    #: models of --quick (untuned TVM needs minutes per YoloV4 inference on a small CPU)
    quick_models: Tuple[str, ...] = SEED_MODELS
    #: name the records' target after the platform found on this machine: "nvidia" (boards and
    #: GPUs, nvidia_platform.py) or an edge_platform.py recogniser
    recognise: Optional[str] = None
    #: the models of a full run (the report ran only these on the target)
    models: Tuple[str, ...] = SEED_MODELS
    #: (batch size, mode) of each model and precision
    configs: Tuple[Tuple[int, str], ...] = CONFIGS


SUITES: Dict[str, TargetSuite] = {
    s.name: s
    for s in (
        TargetSuite("x86-onnxruntime", "onnxruntime", ("fp32", "fp16", "int8")),
        TargetSuite("x86-openvino", "openvino", ("fp32", "fp16", "int8")),
        TargetSuite("x86-tvm", "tvm", ("fp32", "fp16", "int8"), quick_models=("resnet50", "mobilenetv3_small")),
        # NVIDIA: the report's TensorRT matrix (trtexec-built engines at fp32/fp16/int8, batch 1 and 8);
        # the record's target is the platform recognised on the machine (nvidia_platform.py).
        TargetSuite("cuda", "tensorrt", ("fp32", "fp16", "int8"), recognise="nvidia"),
        TargetSuite("jetson", "tensorrt", ("fp32", "fp16", "int8"), recognise="nvidia"),
        # Edge accelerators, int8 only, as D3.3 §3.4.3-3.4.6: Hailo-8 at batch 1 and 8 (Tables 25, 26);
        # the Edge TPU and the i.MX 8M Plus NPU at batch 1 without YoloV4 (too big for the TPU; not
        # quantized for the NPU), their models compiled for batch 1.
        TargetSuite("hailo8", "hailort", ("int8",), recognise="hailo"),
        TargetSuite(
            "coral",
            "edgetpu",
            ("int8",),
            recognise="edgetpu",
            models=EDGE_MODELS,
            quick_models=EDGE_MODELS,
            configs=CONFIGS[:1],
        ),
        # Xilinx DPUs (§3.4.18-19): MobileNetV2 stands in for MobileNetV3, which the DPU compiler did not
        # take; the Versal tables have no MobileNet. Myriad X (§3.4.2): fp16 (what MYRIAD executes), batch 1 and 4.
        TargetSuite(
            "dpu-zynqmp",
            "vart",
            ("int8",),
            recognise="dpu",
            models=("resnet50", "mobilenetv2", "yolov4"),
            quick_models=("resnet50", "mobilenetv2"),
            configs=DEVICE_BATCH,
        ),
        TargetSuite(
            "dpu-versal",
            "vart",
            ("int8",),
            recognise="dpu",
            models=("resnet50", "yolov4"),
            quick_models=("resnet50",),
            configs=DEVICE_BATCH,
        ),
        TargetSuite(
            "myriad",
            "openvino",
            ("fp16",),
            (("device", "MYRIAD"),),
            recognise="myriad",
            configs=((1, "latency"), (4, "throughput")),
        ),
        TargetSuite(
            "imx8mp",
            "vx",
            ("int8",),
            recognise="imx8mp",
            models=EDGE_MODELS,
            quick_models=EDGE_MODELS,
            configs=CONFIGS[:1],
        ),
    )
}


@dataclasses.dataclass
class LoopDefaults:
    warmup_iterations: int
    warmup_seconds: float
    min_iterations: int
    min_seconds: float


#: a suite's runs are many: fewer minimum iterations than a single `run`, the same 10 s window
FULL = LoopDefaults(warmup_iterations=5, warmup_seconds=1.0, min_iterations=20, min_seconds=10.0)
QUICK = LoopDefaults(warmup_iterations=1, warmup_seconds=0.0, min_iterations=3, min_seconds=0.5)


@dataclasses.dataclass
class SuiteRun:
    model: str
    precision: str
    batch_size: int
    mode: str
    outcome: Optional[RunOutcome]
    message: Optional[str] = None
    backend: str = ""


#: the dataset directory (under --datasets) and kind each seed model is evaluated on
DATASETS = {
    "resnet50": "imagenet",
    "mobilenetv3_small": "imagenet",
    "mobilenetv2": "imagenet",
    "digits": "imagenet",
    "yolov4": "coco",
}


def plan(suite: TargetSuite, models: Sequence[str], precisions: Sequence[str], quick: bool) -> List[Tuple]:
    configs = suite.configs[:1] if quick else suite.configs
    return [(m, p, b, mode) for m in models for p in precisions for (b, mode) in configs]


def accuracy_plan(models: Sequence[str], precisions: Sequence[str], datasets: Optional[Path]) -> List[Tuple]:
    """(model, precision, "KIND:PATH") for every model whose dataset is under `datasets`."""
    if datasets is None:
        return []
    jobs = []
    for model in models:
        kind = DATASETS.get(model)
        if kind and (datasets / kind).is_dir():
            jobs += [(model, precision, "{}:{}".format(kind, datasets / kind)) for precision in precisions]
    return jobs


@dataclasses.dataclass(frozen=True)
class SuiteRequest:
    target: str
    output: Path
    zoo: Optional[Path] = None
    models: Optional[Sequence[str]] = None
    precisions: Optional[Sequence[str]] = None
    quick: bool = False
    loop: Optional[LoopDefaults] = None
    threads: Optional[int] = None
    backend_options: Dict[str, str] = dataclasses.field(default_factory=dict)
    power: PowerRequest = dataclasses.field(default_factory=PowerRequest)
    #: directory with imagenet/ and/or coco/: each model's accuracy is evaluated too
    datasets: Optional[Path] = None
    accuracy_limit: int = 0
    timeout_s: Optional[float] = None
    #: run the matrix with this backend instead of the target's (jetson with trtexec on JetPack 4)
    backend: Optional[str] = None
    #: also run every performance configuration with this backend (trtexec), for the aggregator's
    #: cross-check table
    cross_check: Optional[str] = None
    #: the records' target name (default: the suite's, or the recognised platform)
    target_name: Optional[str] = None
    power_mode: Optional[str] = None


def _run_request(suite: SuiteRequest, backend: str, options: Dict[str, str], job: Tuple) -> RunRequest:
    model, precision, batch, mode, dataset = job
    loop = suite.loop or (QUICK if suite.quick else FULL)
    return RunRequest(
        model=ModelRequest(model=Path("zoo:" + model), zoo=suite.zoo),
        backend=BackendRequest(name=backend, precision=precision, options=options, threads=suite.threads),
        loop=LoopSettings(
            mode="latency" if dataset else mode,
            batch_size=batch,
            warmup_iterations=loop.warmup_iterations,
            warmup_seconds=loop.warmup_seconds,
            min_iterations=loop.min_iterations,
            min_seconds=loop.min_seconds,
        ),
        output=suite.output,
        power=suite.power,
        accuracy=AccuracyRequest(dataset=dataset, limit=suite.accuracy_limit) if dataset else None,
        target=suite.target_name or suite.target,
        power_mode=suite.power_mode,
        timeout_s=suite.timeout_s,
    )


def _jobs(request: SuiteRequest, suite: TargetSuite, log: Callable[[str], None]) -> List[Tuple]:
    models = list(request.models or (suite.quick_models if request.quick else suite.models))
    precisions = list(request.precisions or suite.precisions)
    jobs = [(m, p, b, mode, None) for (m, p, b, mode) in plan(suite, models, precisions, request.quick)]
    batch = None if any(b is None for b, _ in suite.configs) else 1
    jobs += [(m, p, batch, "accuracy", d) for (m, p, d) in accuracy_plan(models, precisions, request.datasets)]
    if request.datasets is not None:
        wanted = sorted({DATASETS[m] for m in models if m in DATASETS})
        missing = [kind for kind in wanted if not (request.datasets / kind).is_dir()]
        if missing:
            log("{}: no {} there: accuracy runs on it skipped".format(request.datasets, ", ".join(missing)))
    return jobs


def _backends(request: SuiteRequest, suite: TargetSuite) -> Tuple[str, Optional[str]]:
    main = request.backend or suite.backend
    for name, flag in ((main, "--backend"), (request.cross_check, "--cross-check")):
        if name is not None and name not in REGISTRY:
            raise UsageError("{} {}: choose from {}".format(flag, name, ", ".join(sorted(REGISTRY))))
    if request.cross_check == main:
        raise UsageError("--cross-check {}: that is the suite's own backend; name another".format(main))
    return main, request.cross_check


def _options_for(backend: str, given: Dict[str, str]) -> Dict[str, str]:
    """The suite's backend options that this backend has (a cross-check backend takes the shared ones)."""
    known = {f.name for f in dataclasses.fields(backend_type(backend).Options)}
    return {k: v for k, v in given.items() if k in known}


def _with_cross_checks(jobs: List[Tuple], main: str, cross: Optional[str]) -> List[Tuple]:
    out = []
    for job in jobs:
        out.append((main, *job))
        if cross is not None and job[4] is None:  # performance runs only: trtexec keeps no outputs
            out.append((cross, *job))
    return out


def run_suite(
    request: SuiteRequest, log: Callable[[str], None] = print, progress: Optional[Progress] = None
) -> Tuple[int, List[SuiteRun]]:
    """Run the matrix; return (exit code, runs). Exit 0 when every run is ok or unsupported,
    1 when any failed, 130 when a signal stopped the suite."""
    if request.target not in SUITES:
        raise UsageError("--target {}: choose from {}".format(request.target, ", ".join(sorted(SUITES))))
    suite = SUITES[request.target]
    main, cross = _backends(request, suite)
    options = dict(suite.options)
    options.update(request.backend_options)
    if suite.recognise and not request.target_name:
        name, mode = recognised_target(suite.recognise, suite.name, log, options.get("library"))
        request = dataclasses.replace(request, target_name=name, power_mode=request.power_mode or mode)
    jobs = _device_batch(request, _with_cross_checks(_jobs(request, suite, log), main, cross), log)
    runs: List[SuiteRun] = []
    stop = StopFlag()
    for index, job in enumerate(jobs, 1):
        backend, model, precision, batch, mode, _ = job
        who = "" if backend == suite.backend else backend + " "
        label = "[{}/{}] {} {}{} {} batch {} {}".format(
            index, len(jobs), request.target, who, model, precision, batch, mode
        )
        try:
            # the suite's backend takes every option (a wrong one is an error); a cross-check, the shared ones
            given = options if backend == main else _options_for(backend, options)
            run_request = _run_request(request, backend, given, job[1:])
            outcome = execute(run_request, progress=progress, stop=stop)
        except BenchError as exc:
            # Nothing ran (a zoo file missing, a bad option, a signal between runs): the same
            # cause would hit every run of the suite, so say it once and stop.
            log("{}: {}".format(label, exc))
            runs.append(SuiteRun(model, precision, batch, mode, None, str(exc), backend))
            return exc.exit_code, runs
        runs.append(SuiteRun(model, precision, batch, mode, outcome, outcome.message, backend))
        log("{}: {}".format(label, _describe(outcome)))
        if outcome.record.status == "interrupted":
            return EXIT_INTERRUPTED, runs
    failed = any(r.outcome is not None and r.outcome.record.status == "failed" for r in runs)
    return (EXIT_RUNTIME if failed else EXIT_OK), runs


def _device_batch(request: SuiteRequest, jobs: List[Tuple], log: Callable[[str], None]) -> List[Tuple]:
    """Jobs whose batch is the device's get it from the backend (a DPU runner's dims[0])."""
    pending = [job for job in jobs if job[3] is None]
    if not pending:
        return jobs
    backend, model, precision = pending[0][:3]
    batch = None
    try:
        zoo = resolve_zoo(_run_request(request, backend, {}, (model, precision, 1, "latency", None)))
        batch = backend_type(backend).fixed_batch(zoo.path) if zoo is not None else None
    except BenchError as exc:
        log("{}: {}".format(model, exc))
    if batch is None:
        log("the device's batch could not be read (no device?): the runs ask for batch 1")
    else:
        log("device batch: {} (as the device runs {})".format(batch, model))
    return [job if job[3] is not None else (*job[:3], batch or 1, *job[4:]) for job in jobs]


_WHAT = {"nvidia": "NVIDIA board or GPU", "hailo": "Hailo device", "edgetpu": "Edge TPU",
         "imx8mp": "i.MX 8M Plus", "dpu": "Xilinx DPU", "myriad": "Myriad X"}  # fmt: skip


def recognised_target(
    kind: str, fallback: str, log: Callable[[str], None], library: Optional[str] = None
) -> Tuple[str, Optional[str]]:
    """(the catalog name of the platform found here, else the device's own name (the aggregator
    then says which platform to add to the catalog), else the suite's name; the Jetson's power mode)."""
    from vedliot_runner import edge_platform, nvidia_platform

    mode = None
    if kind == "nvidia":
        found = nvidia_platform.recognise()
        on_jetson = found is not None and found.evidence.startswith("/proc/device-tree")
        parts = [nvidia_platform.power_mode(), nvidia_platform.clocks_state()] if on_jetson else []
        mode = "; ".join(p for p in parts if p) or None
    elif kind == "edgetpu" and library:
        found = edge_platform.edgetpu(library)
    else:
        found = edge_platform.RECOGNISERS[kind]()
    if found is None:
        log("platform: no {} recognised here; records name the target '{}'".format(_WHAT[kind], fallback))
        return fallback, None
    if mode:
        log("power mode: {} (nvpmodel -q, jetson_clocks --show)".format(mode))
    if found.catalog_id is None:
        log("platform: {} ({}) is not in the platform catalog: records name it as found".format(
            found.name, found.evidence))  # fmt: skip
        return found.name, mode
    log("platform: {} ({})".format(found.catalog_id, found.evidence))
    return found.catalog_id, mode


def _describe(outcome: RunOutcome) -> str:
    record = outcome.record
    if record.status != "ok":
        return "{}: {}".format(record.status, outcome.message)
    timing = record.timing
    window = (timing.window_end_ns - timing.window_start_ns) / 1e9
    mean_ms = sum(timing.samples_ns) / len(timing.samples_ns) / 1e6
    effective = record.precision.effective
    note = "" if effective == record.precision.requested else " (effective {})".format(effective)
    section = record.accuracy
    predictions = section.predictions if section is not None else None
    if isinstance(predictions, ClassificationPredictions):
        top1, _ = topk_percent(predictions)
        return "ok{}, {} samples, top-1 {:.2f}%".format(note, len(predictions.labels), top1)
    if isinstance(predictions, DetectionPredictions):
        return "ok{}, {} images, {} detections".format(note, len(predictions.image_ids), predictions.detections)
    return "ok{}, {:.2f} ms per call, {:.1f} inferences/s".format(note, mean_ms, timing.inferences / window)


def topk_percent(predictions: ClassificationPredictions) -> Tuple[float, float]:
    """(Top-1 %, Top-5 %) of recorded predictions, for the terminal's first look (the aggregator
    scores records properly)."""
    pairs = list(zip(predictions.labels, predictions.top5))
    if not pairs:
        return 0.0, 0.0
    return (
        100.0 * sum(top[0] == label for label, top in pairs) / len(pairs),
        100.0 * sum(label in top for label, top in pairs) / len(pairs),
    )
