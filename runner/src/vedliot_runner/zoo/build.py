"""`vedliot-runner zoo build`: every requested (model, format, precision) file, cached.

Each file carries a recipe (zoo version, model, seed, format, precision, calibration identity);
a file whose recipe and size match the manifest is not built again, so a second call with the
same arguments does no work. Layout: DIR/<model>/<model>_<precision>.<onnx|tflite>, DIR/zoo.json.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError
from vedliot_runner.zoo import EXTRA_MODELS, MODELS, build_apart, manifest
from vedliot_runner.zoo.calibration import Calibration
from vedliot_runner.zoo.quantize import DEFAULT_FORM, GRAPH_REVISION, INT8_FORMS
from vedliot_runner.zoo.weights import HeadAdjust, WeightSource

#: bump when a definition or recipe changes what a file holds: every cached file is rebuilt
ZOO_VERSION = 1
#: bump when only the full-integer TFLite graphs change: those files are rebuilt, the others kept
#: (2: hard-swish written so that LiteRT's XNNPACK delegate takes it, tfgraph.TFBuilder.hardswish;
#: 3: the 1/6 of hard-swish and hard-sigmoid taken into the next convolution's weights)
TFLITE_INT8_GRAPH = 3
FORMATS = ("onnx", "tflite")
PRECISIONS = ("fp32", "fp16", "int8")
#: models TFLite files are built for (YoloV4 is ONNX only: no target of the report ran it as TFLite)
TFLITE_MODELS = ("resnet50", "mobilenetv3_small", "mobilenetv2", "tinycnn", "digits")

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def head_adjust(module: ModuleType, seed: int, workdir: Path) -> Optional[HeadAdjust]:
    """Centre and scale a classifier's logits on synthetic inputs (see weights.HeadAdjust)."""
    if module.TASK != "classification":
        return None
    import onnx
    import onnxruntime

    from vedliot_runner.zoo.graph import GraphBuilder
    from vedliot_runner.zoo.weights import WeightSource

    weights = WeightSource(seed)
    g = GraphBuilder(module.NAME, weights)
    module.define(g, module.IMAGE_SIZE)
    probe = workdir / ".head-probe.onnx"
    onnx.save(g.model(module.output_shapes()), str(probe))
    try:
        session = onnxruntime.InferenceSession(str(probe), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(seed + 2000)
        size = module.IMAGE_SIZE
        logits = np.concatenate(
            [
                session.run(None, {"input": rng.standard_normal((8, 3, size, size), dtype=np.float32)})[0]
                for _ in range(4)
            ]
        )
    finally:
        probe.unlink()
    shift = logits.mean(axis=0)
    scale = float((logits - shift).std()) or 1.0
    return HeadAdjust(draw=weights.draws - 1, scale=scale, shift=shift.astype(np.float32))


def _model_entry(module: ModuleType, fp32_path: Path) -> Dict:
    from vedliot_runner import ops

    counted = ops.count(fp32_path)
    published = getattr(module, "PUBLISHED_GOPS", None)
    if published is not None:
        ops_entry = {
            "value": published * 1e9,
            "source": "published",
            "note": "D3.3 Table 1 convention, used in all the report's tables; counted from the graph: "
            "{:.4g} GOps ({} MACs)".format(counted.gops, counted.macs),
        }
    else:
        ops_entry = {"value": float(2 * counted.macs), "source": "counted", "note": "{} MACs".format(counted.macs)}
    entry = {
        "task": module.TASK,
        "description": (module.__doc__ or "").strip().splitlines()[0],
        "input": {"name": "input", "shape": ["batch", 3, module.IMAGE_SIZE, module.IMAGE_SIZE], "dtype": "float32"},
        "preprocessing": module.PREPROCESSING,
        "labels": module.LABELS,
        "classes": module.CLASSES,
        "outputs": module.output_shapes(),
        "ops_per_inference": ops_entry,
        "files": [],
    }
    if hasattr(module, "detection_info"):
        entry["detection"] = module.detection_info()
    return entry


def _check_arguments(models, precisions, formats, calibration: Dict[str, Path]) -> None:
    known = {**MODELS, **EXTRA_MODELS}
    for name, values, allowed in (
        ("--models", models, known),
        ("--precisions", precisions, PRECISIONS),
        ("--formats", formats, FORMATS),
    ):
        unknown = [v for v in values if v not in allowed]
        if unknown or not values:
            raise UsageError(
                "{} {}: choose from {}".format(name, ",".join(unknown) or "(none)", ",".join(sorted(allowed)))
            )
    for name in calibration:
        if name not in models:
            raise UsageError("--calibration {}=...: {} is not among --models".format(name, name))


def _current(output: Path, seed: int) -> Dict:
    """The manifest to extend: the one there, unless it was built with another seed or version."""
    try:
        current = manifest.load(output)
        if current.get("seed") == seed and current.get("zoo_version") == ZOO_VERSION:
            return current
    except UsageError:
        pass
    return manifest.empty(seed, ZOO_VERSION)


@dataclasses.dataclass
class _Build:
    """One zoo build: where, what was asked for, and the manifest as it grows."""

    output: Path
    seed: int
    current: Dict
    #: the (model, format, precision) files asked for
    jobs: List[Tuple[str, str, str]]
    log: Log
    done: int = 0
    #: False in a build_apart worker: the parent writes the manifest
    saves: bool = True


@dataclasses.dataclass
class _Model:
    """One model's state while its files are made."""

    name: str
    module: ModuleType
    directory: Path
    prepared: object
    cal: Calibration
    entry: Optional[Dict]
    head: Optional[HeadAdjust] = None


def _recipe(run: _Build, model: _Model, fmt: str, precision: str, form: Optional[str]) -> Dict:
    recipe = {
        "zoo_version": ZOO_VERSION,
        "model": model.name,
        "seed": run.seed,
        "format": fmt,
        "precision": precision,
        "calibration": model.cal.identity if precision == "int8" else None,
    }
    if model.prepared is not None:
        recipe["weights"] = model.prepared.identity
    if fmt == "tflite" and precision == "int8":
        recipe["tflite_int8_graph"] = TFLITE_INT8_GRAPH
    if form not in (None, DEFAULT_FORM):  # the default form's recipe is as it was before forms existed
        recipe["int8_form"] = form
    if form in GRAPH_REVISION:
        recipe["int8_graph"] = GRAPH_REVISION[form]
    return recipe


def _weights(run: _Build, model: _Model) -> Callable[[], object]:
    if model.prepared is not None:
        return model.prepared.weights
    if model.head is None and model.module.TASK == "classification":
        model.head = _load_or_compute_head(model.module, run.seed, model.directory)
    return functools.partial(WeightSource, run.seed, model.head)


def _file_entry(run: _Build, path: Path, fmt: str, precision: str, recipe: Dict, form: Optional[str]) -> Dict:
    entry = {
        "format": fmt,
        "precision": precision,
        "path": str(path.relative_to(run.output)),
        "sha256": sha256_of(path),
        "size_bytes": path.stat().st_size,
        "layout": "NCHW" if fmt == "onnx" else "NHWC",
        "input_dtype": "int8" if (fmt == "tflite" and precision == "int8") else "float32",
        "recipe": recipe,
    }
    if form is not None:
        entry["int8_form"] = dict(INT8_FORMS[form])
    return entry


def _build_file(run: _Build, model: _Model, fmt: str, precision: str, form: Optional[str] = None) -> None:
    # the second int8 form is part of its precision's job, not a job of its own
    asked = (model.name, fmt, precision) in run.jobs and form in (None, DEFAULT_FORM)
    label = precision + ("" if form in (None, DEFAULT_FORM) else " " + form)
    # a file built for an asked one (the fp32 source, the second int8 form) shares its step number
    number = run.done + 1 if asked else max(run.done, 1)
    step = "[{}/{}] {} {} {}".format(number, len(run.jobs), model.name, fmt, label)
    recipe = _recipe(run, model, fmt, precision, form)
    suffix = "" if form in (None, DEFAULT_FORM) else "_" + form
    path = model.directory / "{}_{}{}{}".format(model.name, precision, suffix, ".onnx" if fmt == "onnx" else ".tflite")
    existing = manifest.find_file(model.entry, fmt, precision, form, exact=True) if model.entry else None
    if existing is not None and existing.get("recipe") == recipe and path.is_file():
        if path.stat().st_size == existing["size_bytes"]:
            run.done += asked
            if asked:
                run.log("{}: cached".format(step))
            return
    t0 = time.monotonic()
    tmp = path.with_name("." + path.name + ".tmp")
    _build_one(model.module, _weights(run, model), fmt, precision, model.cal, model.directory, tmp, form)
    tmp.replace(path)
    if fmt == "onnx" and precision == "fp32":
        model.entry = _model_entry(model.module, path)
        model.entry["files"] = [f for f in (run.current["models"].get(model.name) or {}).get("files", [])]
        if model.prepared is not None:
            model.entry["dataset"] = {"kind": "imagenet", "path": model.prepared.dataset}
            model.entry["holdout_top1"] = round(model.prepared.holdout_top1, 2)
    record = _file_entry(run, path, fmt, precision, recipe, form)
    files = [f for f in model.entry["files"]
             if not (f["format"] == fmt and f["precision"] == precision and manifest.form_of(f) == form)]  # fmt: skip
    model.entry["files"] = [*files, record]
    run.current["models"][model.name] = model.entry
    if run.saves:
        manifest.save(run.output, run.current)
    run.done += asked
    run.log("{}: built in {:.1f} s ({:.1f} MB)".format(step, time.monotonic() - t0, record["size_bytes"] / 1e6))


def _build_model(run: _Build, name: str, calibration: Optional[Path]) -> None:
    module = {**MODELS, **EXTRA_MODELS}[name]
    directory = run.output / name
    directory.mkdir(exist_ok=True)
    # Trained models (digits) bring their weights, real calibration data and a dataset.
    prepared = module.prepare(directory, run.output, run.seed, run.log) if hasattr(module, "prepare") else None
    cal = Calibration(module, run.seed, calibration or (prepared.calibration if prepared else None))
    model = _Model(name, module, directory, prepared, cal, run.current["models"].get(name))
    wanted = [(fmt, precision) for (n, fmt, precision) in run.jobs if n == name]
    # fp32 ONNX is the source of every other file and of the op count.
    if ("onnx", "fp32") not in wanted:
        wanted.insert(0, ("onnx", "fp32"))
    for fmt, precision in wanted:
        # an int8 ONNX file per form, from the same calibration: each backend takes the one it runs best
        for form in INT8_FORMS if (fmt, precision) == ("onnx", "int8") else (None,):
            _build_file(run, model, fmt, precision, form)


def build(
    output: Path,
    models: Sequence[str] = tuple(MODELS),
    precisions: Sequence[str] = PRECISIONS,
    formats: Sequence[str] = FORMATS,
    seed: int = 0,
    calibration: Optional[Dict[str, Path]] = None,
    log: Log = _stderr,
    workers: int = 1,
) -> Dict:
    """Build what is missing; return the manifest. Raises UsageError for bad arguments. With
    `workers` > 1, up to that many models are built at once, each in a process of its own."""
    calibration = dict(calibration or {})
    _check_arguments(models, precisions, formats, calibration)
    output.mkdir(parents=True, exist_ok=True)
    jobs = [
        (name, fmt, precision)
        for name in models
        for fmt in formats
        if fmt != "tflite" or name in TFLITE_MODELS
        for precision in precisions
    ]
    run = _Build(output, seed, _current(output, seed), jobs, log)
    started = time.monotonic()
    if workers > 1 and len(models) > 1:
        _build_apart(run, models, calibration, workers)
    else:
        for name in models:
            _build_model(run, name, calibration.get(name))
    manifest.save(output, run.current)
    files = sum(len((run.current["models"].get(name) or {}).get("files", [])) for name in models)  # both int8 forms
    log("zoo: {} files in {} ({:.0f} s)".format(files, output / manifest.MANIFEST, time.monotonic() - started))
    return run.current


def _build_apart(run: _Build, models: Sequence[str], calibration: Dict[str, Path], workers: int) -> None:
    def finished(name: str, result: build_apart.Result) -> None:
        entry, lines = result
        for line in lines:
            run.log(line)
        if entry is not None:
            run.current["models"][name] = entry
            manifest.save(run.output, run.current)

    calls = [(name, (run.output, run.seed, run.current["models"].get(name), run.jobs, name, calibration.get(name)))
             for name in models]  # fmt: skip
    build_apart.run(_model_worker, calls, workers, finished)


def _model_worker(output: Path, seed: int, entry, jobs, name: str, calibration: Optional[Path]) -> build_apart.Result:
    lines: List[str] = []
    current = manifest.empty(seed, ZOO_VERSION)
    if entry is not None:
        current["models"][name] = entry
    run = _Build(output, seed, current, [job for job in jobs if job[0] == name], lines.append, saves=False)
    _build_model(run, name, calibration)
    return current["models"].get(name), lines


def _load_or_compute_head(module: ModuleType, seed: int, model_dir: Path) -> HeadAdjust:
    cache = model_dir / "head_adjust_seed{}_v{}.npz".format(seed, ZOO_VERSION)
    if cache.is_file():
        data = np.load(str(cache))
        return HeadAdjust(int(data["draw"]), float(data["scale"]), data["shift"])
    head = head_adjust(module, seed, model_dir)
    tmp = cache.with_name("." + cache.name)
    with open(tmp, "wb") as handle:
        np.savez(handle, draw=head.draw, scale=head.scale, shift=head.shift)
    tmp.replace(cache)
    return head


def _build_one(
    module, weights, fmt: str, precision: str, cal: Calibration, model_dir: Path, tmp: Path, form: Optional[str]
) -> None:
    import onnx

    from vedliot_runner.zoo.graph import GraphBuilder

    if fmt == "tflite":
        from vedliot_runner.zoo import tflite

        tmp.write_bytes(tflite.convert(module, weights, precision, cal.batches))
        return
    fp32_path = model_dir / "{}_fp32.onnx".format(module.NAME)
    if precision == "fp32":
        g = GraphBuilder(module.NAME, weights())
        module.define(g, module.IMAGE_SIZE)
        onnx.save(g.model(module.output_shapes()), str(tmp))
    elif precision == "fp16":
        from vedliot_runner.zoo.fp16 import to_fp16

        onnx.save(to_fp16(onnx.load(str(fp32_path))), str(tmp))
    else:
        from vedliot_runner.zoo.quantize import quantize_qdq

        quantize_qdq(fp32_path, tmp, "input", cal.batches(), form or DEFAULT_FORM)


def parse_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
