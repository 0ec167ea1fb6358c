"""`vedliot-runner zoo build`: every requested (model, format, precision) file, cached.

Each file carries a recipe (zoo version, model, seed, format, precision, calibration identity);
a file whose recipe and size match the manifest is not built again, so a second call with the
same arguments does no work. Layout: DIR/<model>/<model>_<precision>.<onnx|tflite>, DIR/zoo.json.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from vedliot_runner.digest import sha256_of
from vedliot_runner.errors import UsageError
from vedliot_runner.zoo import EXTRA_MODELS, MODELS, manifest
from vedliot_runner.zoo.weights import HeadAdjust, WeightSource

#: bump when a definition or recipe changes what a file holds: every cached file is rebuilt
ZOO_VERSION = 1
FORMATS = ("onnx", "tflite")
PRECISIONS = ("fp32", "fp16", "int8")
#: models TFLite files are built for (YoloV4 is ONNX only: no target of the report ran it as TFLite)
TFLITE_MODELS = ("resnet50", "mobilenetv3_small", "mobilenetv2", "tinycnn", "digits")
CALIBRATION_SAMPLES = 16

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def synthetic_images(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """Normalised NCHW "images" with structure: coarse random blocks plus fine noise.

    White noise makes every image look alike to a CNN (global pooling averages it away), so a
    classifier would give nearly the same logits for all of them; blocks give each sample its own
    content, which int8 calibration and top-1 agreement checks need to mean anything."""
    cells = 7
    low = rng.standard_normal((count, 3, cells, cells), dtype=np.float32)
    step = -(-size // cells)
    blocks = np.repeat(np.repeat(low, step, axis=2), step, axis=3)[:, :, :size, :size]
    return (blocks + 0.3 * rng.standard_normal(blocks.shape, dtype=np.float32)).astype(np.float32)


class Calibration:
    """Calibration inputs of one model: a user's .npy of preprocessed NCHW float32 inputs, or
    seeded synthetic_images (enough for speed benchmarks; accuracy needs real data)."""

    def __init__(self, module: ModuleType, seed: int, path: Optional[Path] = None, samples: int = 0) -> None:
        self.shape = (3, module.IMAGE_SIZE, module.IMAGE_SIZE)
        self.seed = seed
        self.path = path
        self.samples = samples or CALIBRATION_SAMPLES
        if path is not None:
            data = np.load(str(path), mmap_mode="r")
            if data.ndim != 4 or tuple(data.shape[1:]) != self.shape:
                raise UsageError(
                    "--calibration {}={}: expected a float32 array N x {}, got shape {}".format(
                        module.NAME, path, "x".join(map(str, self.shape)), "x".join(map(str, data.shape))
                    )
                )
            self.identity = "file:" + sha256_of(path)
        else:
            self.identity = "synthetic:blocks:seed={}:n={}".format(seed, self.samples)

    def batches(self, batch: int = 4) -> Iterator[np.ndarray]:
        if self.path is not None:
            data = np.load(str(self.path), mmap_mode="r")
            for start in range(0, len(data), batch):
                yield np.ascontiguousarray(data[start : start + batch], dtype=np.float32)
            return
        rng = np.random.default_rng(self.seed + 1000)
        for start in range(0, self.samples, batch):
            yield synthetic_images(rng, min(batch, self.samples - start), self.shape[-1])


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


def build(
    output: Path,
    models: Sequence[str] = tuple(MODELS),
    precisions: Sequence[str] = PRECISIONS,
    formats: Sequence[str] = FORMATS,
    seed: int = 0,
    calibration: Optional[Dict[str, Path]] = None,
    log: Log = _stderr,
) -> Dict:
    """Build what is missing; return the manifest. Raises UsageError for bad arguments."""
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
    calibration = dict(calibration or {})
    for name in calibration:
        if name not in models:
            raise UsageError("--calibration {}=...: {} is not among --models".format(name, name))
    output.mkdir(parents=True, exist_ok=True)
    try:
        current = manifest.load(output)
        if current.get("seed") != seed or current.get("zoo_version") != ZOO_VERSION:
            current = manifest.empty(seed, ZOO_VERSION)
    except UsageError:
        current = manifest.empty(seed, ZOO_VERSION)

    jobs = []
    for name in models:
        for fmt in formats:
            if fmt == "tflite" and name not in TFLITE_MODELS:
                continue
            for precision in precisions:
                jobs.append((name, fmt, precision))
    started = time.monotonic()
    built = 0
    for name in models:
        module = known[name]
        model_dir = output / name
        model_dir.mkdir(exist_ok=True)
        # Trained models (digits) bring their weights, real calibration data and a dataset.
        prepared = module.prepare(model_dir, output, seed, log) if hasattr(module, "prepare") else None
        cal = Calibration(module, seed, calibration.get(name) or (prepared.calibration if prepared else None))
        entry = current["models"].get(name)
        wanted = [(fmt, precision) for (n, fmt, precision) in jobs if n == name]
        # fp32 ONNX is the source of every other file and of the op count.
        if ("onnx", "fp32") not in wanted:
            wanted.insert(0, ("onnx", "fp32"))
        head: Optional[HeadAdjust] = None
        for fmt, precision in wanted:
            step = "[{}/{}] {} {} {}".format(built + 1, len(jobs), name, fmt, precision)
            recipe = {
                "zoo_version": ZOO_VERSION,
                "model": name,
                "seed": seed,
                "format": fmt,
                "precision": precision,
                "calibration": cal.identity if precision == "int8" else None,
            }
            if prepared is not None:
                recipe["weights"] = prepared.identity
            suffix = ".onnx" if fmt == "onnx" else ".tflite"
            path = model_dir / "{}_{}{}".format(name, precision, suffix)
            existing = manifest.find_file(entry, fmt, precision) if entry else None
            if (
                existing is not None
                and existing.get("recipe") == recipe
                and path.is_file()
                and path.stat().st_size == existing["size_bytes"]
            ):
                if (name, fmt, precision) in jobs:
                    built += 1
                    log("{}: cached".format(step))
                continue
            t0 = time.monotonic()
            if prepared is not None:
                weights: Callable[[], object] = prepared.weights
            else:
                if head is None and module.TASK == "classification":
                    head = _load_or_compute_head(module, seed, model_dir)
                weights = functools.partial(WeightSource, seed, head)
            tmp = path.with_name("." + path.name + ".tmp")
            _build_one(module, weights, fmt, precision, cal, model_dir, tmp)
            tmp.replace(path)
            if fmt == "onnx" and precision == "fp32":
                entry = _model_entry(module, path)
                entry["files"] = [f for f in (current["models"].get(name) or {}).get("files", [])]
                if prepared is not None:
                    entry["dataset"] = {"kind": "imagenet", "path": prepared.dataset}
                    entry["holdout_top1"] = round(prepared.holdout_top1, 2)
            layout = "NCHW" if fmt == "onnx" else "NHWC"
            record = {
                "format": fmt,
                "precision": precision,
                "path": str(path.relative_to(output)),
                "sha256": sha256_of(path),
                "size_bytes": path.stat().st_size,
                "layout": layout,
                "input_dtype": "int8" if (fmt == "tflite" and precision == "int8") else "float32",
                "recipe": recipe,
            }
            entry["files"] = [f for f in entry["files"] if not (f["format"] == fmt and f["precision"] == precision)]
            entry["files"].append(record)
            current["models"][name] = entry
            manifest.save(output, current)
            if (name, fmt, precision) in jobs:
                built += 1
            log("{}: built in {:.1f} s ({:.1f} MB)".format(step, time.monotonic() - t0, record["size_bytes"] / 1e6))
    manifest.save(output, current)
    log("zoo: {} files in {} ({:.0f} s)".format(len(jobs), output / manifest.MANIFEST, time.monotonic() - started))
    return current


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


def _build_one(module, weights, fmt: str, precision: str, cal: Calibration, model_dir: Path, tmp: Path) -> None:
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

        quantize_qdq(fp32_path, tmp, "input", cal.batches())


def parse_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
