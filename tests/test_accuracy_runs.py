"""Accuracy mode end to end: real datasets on disk, real backends, records scored by the
aggregator (Top-1 through the trained digits model; mAP through real pycocotools on a detector
whose answer is known)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from vedliot_aggregator.cli import cli
from vedliot_aggregator.scoring import Score, compare

import models

FAST = ["--warmup-iterations", "1", "--warmup-seconds", "0"]


def _aggregate(*args: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["accuracy", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


# -- classification: the trained digits model ----------------------------------------------------


@pytest.mark.parametrize(
    "backend, precision",
    [
        ("onnxruntime", "fp32"),
        ("onnxruntime", "int8"),
        ("openvino", "fp32"),
        ("litert", "int8"),
        ("tensorrt", "fp16"),
        ("tensorrt", "int8"),
    ],  # tensorrt: against the doubles (tests/fakes)
)
def test_digits_accuracy_on_backends(digits_zoo, run_inproc, tmp_path, backend, precision):
    out = tmp_path / "results"
    result = run_inproc(
        "run",
        "--model",
        "zoo:digits",
        "--zoo",
        str(digits_zoo),
        "--backend",
        backend,
        "--precision",
        precision,
        "--dataset",
        "imagenet:{}".format(digits_zoo / "digits" / "val"),
        "--batch-size",
        "8",
        *FAST,
        output=out,
    )
    assert result.code == 0, result.err
    (record,) = result.records
    section = record["accuracy"]
    assert record["config"]["mode"] == "accuracy" and section["dataset"]["name"] == "digits"
    count = section["dataset"]["samples"]
    assert section["samples_evaluated"] == count == len(section["predictions"]["top5"]) > 300
    # Every sample exactly once; the last batch padded (not dropped) up to 8.
    assert section["padded_samples"] == (-count) % 8
    assert len(set(section["predictions"]["sample_ids"])) == count
    timing = record["timing"]
    assert len(timing["samples_ns"]) == len(timing["preprocess_samples_ns"]) == -(-count // 8)
    assert timing["inferences"] == count
    (row,) = _aggregate(str(out))
    assert row["top1"] >= 90.0, row  # the bar for the trained demo model
    assert "top-1" in result.out


def test_reference_and_not_comparable_flag(digits_zoo, run_inproc, tmp_path):
    """A reference run and a run of a model that lost its accuracy (the seed's MobileNetV3 INT8
    collapse), on the same samples: the aggregator flags the second as not comparable."""
    out = tmp_path / "results"
    dataset = "imagenet:{}".format(digits_zoo / "digits" / "val")
    common = ["--backend", "onnxruntime", "--dataset", dataset, "--limit", "60", *FAST]
    assert run_inproc("run", "--model", "zoo:digits", "--zoo", str(digits_zoo), *common, output=out).code == 0
    # The untrained architecture: same preprocessing and labels, chance-level accuracy.
    untrained = tmp_path / "untrained.onnx"
    import onnx

    from vedliot_runner.zoo import build_onnx, digits

    onnx.save(build_onnx(digits, seed=3), str(untrained))
    info = tmp_path / "digits_info.json"
    entry = json.loads((digits_zoo / "zoo.json").read_text())["models"]["digits"]
    info.write_text(json.dumps({k: entry[k] for k in ("task", "preprocessing")}))
    code = run_inproc("run", "--model", str(untrained), "--model-name", "digits", "--model-info", str(info), *common,
                      "--precision", "int8", output=out).code  # fmt: skip
    assert code == 0
    rows = {row["precision"]: row for row in _aggregate(str(out))}
    assert rows["fp32"]["comparable"] is True and rows["fp32"]["delta"] == 0
    assert rows["int8"]["comparable"] is False and rows["int8"]["delta"] < -30
    assert any("not comparable" in note for note in rows["int8"]["notes"])
    text = CliRunner().invoke(cli, ["accuracy", str(out)]).output
    assert "NOT COMPARABLE" in text and "reference" in text


def test_compare_margin_and_subsets():
    def score(run, precision, top1, dataset="d:1"):
        return Score(Path(run), run, "ok", "m", "onnxruntime", precision, precision, "classification", dataset, 10,
                     top1=top1, top5=100.0)  # fmt: skip

    rows = compare([score("a", "fp32", 76.0), score("b", "int8", 75.2), score("c", "fp16", 74.9)])
    verdict = {r.score.run_id: (r.comparable, round(r.delta, 2)) for r in rows}
    assert verdict == {"a": (True, 0.0), "b": (True, -0.8), "c": (False, -1.1)}
    # Different samples are never compared: no reference for the subset run.
    rows = compare([score("a", "fp32", 76.0), score("b", "int8", 10.0, dataset="d:2")])
    assert [r.comparable for r in rows] == [True, None]


# -- detection: a detector whose answer is known ----------------------------------------------------


def _mini_coco(root: Path, count: int = 2) -> Path:
    """Images of 64x48 (letterboxed into 32x32 at scale 0.5 with 4 px top/bottom bands) and one
    dog each, where the constant detector puts it."""
    x1, y1, x2, y2 = models.DETECTOR_BOX
    box = [(x1 - 0) / 0.5, (y1 - 4) / 0.5, (x2 - x1) / 0.5, (y2 - y1) / 0.5]
    (root / "val2017").mkdir(parents=True)
    images, annotations = [], []
    for i in range(count):
        name = f"{i + 1:012d}.jpg"
        Image.new("RGB", (64, 48), (90, 120, 30)).save(root / "val2017" / name, "JPEG")
        images.append({"id": 10 + i, "file_name": name, "width": 64, "height": 48})
        annotations.append(
            {"id": i + 1, "image_id": 10 + i, "category_id": 18, "bbox": box, "area": box[2] * box[3], "iscrowd": 0}
        )
    (root / "annotations").mkdir()
    data = {"images": images, "annotations": annotations, "categories": [{"id": 18, "name": "dog"}]}
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root


def _detector_info(path: Path) -> Path:
    info = {
        "task": "detection",
        "preprocessing": {"resize": "letterbox", "size": models.DETECTOR_SIZE, "pad_value": 128, "style": "darknet"},
        "detection": models.DETECTOR_INFO,
    }
    path.write_text(json.dumps(info))
    return path


def test_detection_run_sidecar_and_map(model_dir, run_inproc, tmp_path):
    coco_root = _mini_coco(tmp_path / "coco")
    detector = models.constant_detector(tmp_path / "detector.onnx")
    out = tmp_path / "results"
    result = run_inproc("run", "--model", str(detector), "--backend", "openvino", "--dataset", f"coco:{coco_root}",
                        "--model-info", str(_detector_info(tmp_path / "info.json")), *FAST, output=out)  # fmt: skip
    assert result.code == 0, result.err
    (record,) = result.records  # the sidecar is not a record
    predictions = record["accuracy"]["predictions"]
    sidecar = out / predictions["detections_file"]
    assert sidecar.name == record["run_id"] + ".detections.json"
    detections = json.loads(sidecar.read_text())
    assert predictions["detections"] == len(detections) == 2 and predictions["image_ids"] == [10, 11]
    assert {d["category_id"] for d in detections} == {18}
    assert detections[0]["bbox"] == pytest.approx([16.0, 14.0, 16.0, 12.0], abs=0.02)
    # Scored by pycocotools against the annotations found under --data-root: exact boxes, mAP 100.
    (row,) = _aggregate(str(out), "--data-root", str(tmp_path))
    assert row["map50"] == pytest.approx(100.0) and row["map50_95"] == pytest.approx(100.0)
    # Without the annotations the record is still listed, with what is missing.
    record["accuracy"]["dataset"]["path"] = str(tmp_path / "moved")
    (out / (record["run_id"] + ".json")).write_text(json.dumps(record))
    (row,) = _aggregate(str(out))
    assert row["map50"] is None and "pass --data-root" in row["notes"][0]
    # A sidecar edited after the run is refused.
    sidecar.write_text(json.dumps(detections[:1]))
    (row,) = _aggregate(str(out), "--data-root", str(tmp_path))
    assert row["map50"] is None and "sha256 differs" in row["notes"][0]


@pytest.mark.slow
def test_yolov4_zoo_on_coco_images(zoo_dir, run_inproc, tmp_path):
    """The zoo's YoloV4 (random weights) through the real chain: letterbox 416, three heads,
    decode, NMS, COCO ids; at most 100 detections per image, all inside the image."""
    coco_root = _mini_coco(tmp_path / "coco")
    out = tmp_path / "results"
    result = run_inproc("run", "--model", "zoo:yolov4", "--zoo", str(zoo_dir), "--backend", "onnxruntime",
                        "--dataset", f"coco:{coco_root}", "--limit", "1", *FAST, output=out)  # fmt: skip
    assert result.code == 0, result.err
    (record,) = result.records
    assert record["accuracy"]["recipe"]["preprocessing"]["size"] == 416
    detections = json.loads((out / record["accuracy"]["predictions"]["detections_file"]).read_text())
    assert 0 < len(detections) <= 100
    for d in detections:
        x, y, w, h = d["bbox"]
        assert 0 <= x and 0 <= y and x + w <= 64.01 and y + h <= 48.01


# -- failures and mistakes ---------------------------------------------------------------------


def _tiny_info(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "task": "classification",
                "preprocessing": {"resize_shorter": 32, "crop": 32, "mean": [0.5] * 3, "std": [0.5] * 3},
            }
        )
    )
    return path


def _class_folders(root: Path, count: int = 6) -> Path:
    for i in range(count):
        folder = root / f"class{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 36), (i * 40, 0, 0)).save(folder / f"img{i}.png")
    return root


def test_unreadable_image_mid_run_leaves_a_failed_record(model_dir, run_subprocess, tmp_path):
    data = _class_folders(tmp_path / "data")
    (data / "class2" / "img5.png").write_bytes(b"not a png")
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
                            "--dataset", f"imagenet:{data}", "--model-info", str(_tiny_info(tmp_path / "i.json")),
                            *FAST)  # fmt: skip
    assert result.code == 2
    assert result.err.strip().count("\n") == 0 and "Traceback" not in result.err
    assert "img5.png: unreadable image" in result.err
    (record,) = result.records
    assert record["status"] == "failed" and record["error"]["stage"] == "preprocess"
    # The samples before the broken one were evaluated and kept (batch 1: sorted order).
    assert record["accuracy"]["samples_evaluated"] == 5
    assert len(record["accuracy"]["predictions"]["top5"]) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["--limit", "3"], "--limit only applies to accuracy runs"),
        (["--dataset", "cifar:/x"], "--dataset cifar:/x: expected imagenet:PATH"),
        (["--dataset", "imagenet:{data}"], "--dataset with a model file needs --model-info"),
        (["--dataset", "imagenet:{data}", "--model-info", "{missing}"], "--model-info"),
        (["--dataset", "imagenet:{data}/absent", "--model-info", "{info}"], "no such directory"),
        (["--dataset", "imagenet:{data}", "--model-info", "{info}", "--mode", "throughput"], "--mode throughput"),
        (["--dataset", "imagenet:{data}", "--model-info", "{info}", "--limit", "-1"], "--limit -1"),
    ],
)
def test_usage_errors_write_nothing(model_dir, run_subprocess, tmp_path, args, message):
    data = _class_folders(tmp_path / "data", 3)
    info = _tiny_info(tmp_path / "info.json")
    values = {"data": data, "info": info, "missing": tmp_path / "missing.json"}
    argv = [a.format(**values) for a in args]
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", *argv)
    assert result.code == 2 and message in result.err, result.err
    assert "Traceback" not in result.err and result.records == []


def test_bad_model_info_is_a_usage_error_naming_the_key(model_dir, run_subprocess, tmp_path):
    """The model-info file is read and checked before anything runs: one line, exit 2, no record."""
    data = _class_folders(tmp_path / "data", 3)
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"task": "classification", "preprocessing": {"crop": 32}}))
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
                            "--dataset", f"imagenet:{data}", "--model-info", str(info))  # fmt: skip
    assert result.code == 2 and "lacks resize_shorter" in result.err and str(info) in result.err
    assert result.records == []


def test_suite_adds_accuracy_runs_where_datasets_are(digits_zoo, tmp_path):
    from vedliot_runner.cli import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "imagenet").symlink_to(digits_zoo / "digits" / "val")
    out = tmp_path / "out"
    code = main(["suite", "--target", "x86-onnxruntime", "--quick", "--zoo", str(digits_zoo), "--models", "digits",
                 "--precisions", "fp32,int8", "--datasets", str(data), "--accuracy-limit", "40", "--output", str(out),
                 "--quiet"])  # fmt: skip
    assert code == 0
    records = [json.loads(p.read_text()) for p in out.glob("*.json")]
    modes = sorted(r["config"]["mode"] for r in records)
    assert modes == ["accuracy", "accuracy", "latency", "latency"]
    assert all(r["accuracy"]["samples_evaluated"] == 40 for r in records if r["config"]["mode"] == "accuracy")
