"""The runner-side bad-input audit (issue 12), one test per class of mistake: usage errors exit 2
with one line before anything runs; anything found after the model loaded leaves a record
(`failed`, or `unsupported` for what the runner cannot feed); never a traceback."""

from __future__ import annotations

import json

import pytest

import models
from conftest import QUICK


def _one_clean_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


def _tiny(model_dir, *args):
    return ["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", *args]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--warmup-seconds", "nan"], "--warmup-seconds nan"),
        (["--min-seconds", "inf"], "--min-seconds inf"),
        (["--min-seconds", "1e300"], "--min-seconds 1e+300"),
        (["--ops-per-inference", "nan"], "--ops-per-inference nan"),
        (["--ops-per-inference=-inf"], "--ops-per-inference -inf"),
        (["--power", "external", "--idle-seconds", "inf"], "--idle-seconds inf"),
        (["--power", "external", "--min-power-seconds", "nan"], "--min-power-seconds nan"),
        (["--timeout", "0"], "--timeout 0"),
        (["--timeout", "nan"], "--timeout nan"),
        (["--seed", "-1"], "--seed -1"),
        (["--threads", "1000000"], "--threads 1000000"),
        (["--mode", "throughput", "--requests", "100000"], "--requests 100000"),
        (["--backend-option", "intra_op_num_threads=1000000"], "intra_op_num_threads=1000000"),
        (["--backend-option", "log_severity_level=9"], "log_severity_level=9: choose from 0, 1, 2, 3, 4"),
        (["--backend-option", "device_id=gpu"], "device_id=gpu: expected an integer"),
    ],
)
def test_bad_numbers_are_usage_errors(run_subprocess, model_dir, args, named):
    result = run_subprocess(*_tiny(model_dir, *args))
    assert result.code == 2 and result.records == []
    assert named in _one_clean_line(result.err)


@pytest.mark.parametrize(
    ("backend", "option", "named"),
    [
        ("tvm", "target={not json", "target={not json: not a JSON target dict"),
        ("tvm", "target=arm", "target=arm: choose llvm, cuda"),
        ("tvm", "tuning_trials=many", "tuning_trials=many: expected an integer"),
        ("openvino", "num_streams=lots", "num_streams=lots: expected a positive number of streams or AUTO"),
        ("openvino", "infer_precision=f8", "infer_precision=f8: choose from f32, f16, bf16"),
        ("litert", "delegate_options=novalue", "delegate_options=novalue: expected key=value;key=value"),
    ],
)
def test_option_errors_are_not_blamed_on_the_model(run_subprocess, model_dir, backend, option, named):
    """These used to reach the runtime and come back as "could not load it" records."""
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", backend, "--backend-option",
                            option)  # fmt: skip
    assert result.code == 2 and result.records == []
    assert named in _one_clean_line(result.err)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("hailo:sampling_period_us=1.5", "hailo:sampling_period_us=1.5: choose from 140, 204, 332"),
        ("hailo:averaging=lots", "hailo:averaging=lots: choose from 1, 4, 16"),
        ("recs:url=http://127.0.0.1:9,path=/x/{chassis}", "recs:path=/x/{chassis}: only {node} may appear"),
        ("recs:url=ftp://x", "recs:url=ftp://x: expected an http:// or https:// URL"),
        ("nvml:index=-1", "nvml:index=-1: expected an integer from 0"),
        ("rapl:interval_ms=0", "rapl:interval_ms=0: expected a number from 1"),
        ("external:offset_s=inf", "external:offset_s=inf: expected a number"),
    ],
)
def test_power_option_errors(run_subprocess, model_dir, spec, named):
    result = run_subprocess(*_tiny(model_dir, "--power", spec))
    assert result.code == 2 and result.records == []
    assert named in _one_clean_line(result.err)


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        ([], "not a vedliot-bench/zoo/1 manifest"),
        ({"schema": "vedliot-bench/zoo/1"}, "'models' is not an object"),
        ({"schema": "vedliot-bench/zoo/1", "models": {"tiny": {"files": [{"precision": "fp32", "path": "t.onnx"}]}}},
         "models.tiny.files[0] has no 'format'"),
        ({"schema": "vedliot-bench/zoo/1", "models": {"tiny": ["not", "an", "entry"]}}, "models.tiny is not an object"),
    ],
)  # fmt: skip
def test_broken_zoo_manifest(run_subprocess, tmp_path, manifest, says):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (zoo / "zoo.json").write_text(json.dumps(manifest))
    result = run_subprocess("run", "--model", "zoo:tiny", "--zoo", str(zoo), "--backend", "onnxruntime")
    assert result.code == 2 and result.records == []
    line = _one_clean_line(result.err)
    assert "zoo.json" in line and says in line


def test_synthetic_inputs_beyond_memory_leave_a_failed_record(run_subprocess, tmp_path):
    model = models.huge_static_input(tmp_path / "huge.onnx")
    result = run_subprocess("run", "--model", str(model), "--backend", "onnxruntime", "--quiet", *QUICK)
    assert result.code == 1
    assert "120.0 GB" in _one_clean_line(result.err)
    (record,) = result.records
    assert record["status"] == "failed" and record["error"]["stage"] == "inputs"
    assert record["model"]["inputs"][0]["shape"] == [1, 3, 100000, 100000]


def test_a_huge_batch_leaves_a_failed_record(run_subprocess, model_dir):
    result = run_subprocess(*_tiny(model_dir, "--batch-size", "1000000000", "--quiet", *QUICK))
    assert result.code == 1 and "lower --batch-size" in _one_clean_line(result.err)
    (record,) = result.records
    assert record["status"] == "failed" and record["error"]["stage"] == "inputs"


@pytest.mark.parametrize("builder", [models.scalar_input, models.no_inputs])
def test_no_batch_dimension_refuses_a_batch_size(run_subprocess, tmp_path, builder):
    """Such a model used to report 64 x the inferences it ran, as ok."""
    model = builder(tmp_path / "model.onnx")
    result = run_subprocess("run", "--model", str(model), "--backend", "onnxruntime", "--batch-size", "64",
                            "--quiet", *QUICK)  # fmt: skip
    assert result.code == 3 and "no batch dimension" in _one_clean_line(result.err)
    (record,) = result.records
    assert record["status"] == "unsupported"
    ok = run_subprocess("run", "--model", str(model), "--backend", "onnxruntime", "--quiet", *QUICK,
                        output=tmp_path / "one")  # fmt: skip
    assert ok.code == 0 and ok.records[0]["timing"]["inferences"] == ok.records[0]["timing"]["iterations"]


def test_string_inputs_are_unsupported_not_a_crash(run_subprocess, tmp_path):
    model = models.string_input(tmp_path / "strings.onnx")
    result = run_subprocess("run", "--model", str(model), "--backend", "onnxruntime", "--quiet", *QUICK)
    assert result.code == 3 and "synthetic inputs exist for float" in _one_clean_line(result.err)
    assert result.records[0]["status"] == "unsupported"


def _class_folders(root, classes=2):
    from PIL import Image

    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True)
        Image.new("RGB", (40, 40), (80 * c, 10, 10)).save(root / f"c{c}" / "a.png")
    return root


def _info(path, **entry):
    base = {"task": "classification", "preprocessing": {"resize_shorter": 32, "crop": 32}}
    base.update(entry)
    path.write_text(json.dumps(base))
    return path


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"preprocessing": {"resize_shorter": "32", "crop": 32}}, '"preprocessing.resize_shorter" must be'),
        ({"preprocessing": {"resize_shorter": 32, "crop": 32, "mean": [0.5, 0.5]}}, '"preprocessing.mean" must be'),
        ({"label_offset": "x"}, '"label_offset" must be 0 or a positive integer'),
        ({"output": 3}, '"output" must be the name of an output'),
        ({"task": "segmentation"}, '"task" must be one of classification, detection'),
    ],
)
def test_untyped_model_info_values(run_subprocess, model_dir, tmp_path, entry, named):
    data = _class_folders(tmp_path / "data")
    info = _info(tmp_path / "info.json", **entry)
    result = run_subprocess(*_tiny(model_dir, "--dataset", f"imagenet:{data}", "--model-info", str(info)))
    assert result.code == 2 and result.records == []
    line = _one_clean_line(result.err)
    assert named in line and str(info) in line


def test_a_coco_dataset_on_a_classifier_is_a_usage_error(run_subprocess, model_dir, tmp_path):
    coco = tmp_path / "coco"
    coco.mkdir()
    (coco / "instances_val2017.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    info = _info(tmp_path / "info.json")
    result = run_subprocess(*_tiny(model_dir, "--dataset", f"coco:{coco}", "--model-info", str(info)))
    assert result.code == 2 and result.records == []
    assert "a classification model; use --dataset imagenet:DIR" in _one_clean_line(result.err)


def test_non_utf8_label_file(run_subprocess, model_dir, tmp_path):
    from PIL import Image

    data = tmp_path / "val"
    data.mkdir()
    Image.new("RGB", (40, 40)).save(data / "ILSVRC2012_val_00000001.JPEG")
    (data / "ILSVRC2012_validation_ground_truth.txt").write_bytes(b"65\xff\xfe\n")
    info = _info(tmp_path / "info.json")
    result = run_subprocess(*_tiny(model_dir, "--dataset", f"imagenet:{data}", "--model-info", str(info)))
    assert result.code == 2 and result.records == []
    line = _one_clean_line(result.err)
    assert "ILSVRC2012_validation_ground_truth.txt: not UTF-8 text" in line


@pytest.mark.parametrize(
    ("images", "says"),
    [
        ([{"id": 1, "width": 40, "height": 40}], "images[0] is malformed (KeyError: 'file_name')"),
        (["a.jpg"], "images[0] is malformed (TypeError"),
        ({"id": 1}, "no 'images' list"),
    ],
)
def test_malformed_coco_entries(run_subprocess, tmp_path, images, says):
    model = models.constant_detector(tmp_path / "detector.onnx")
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"task": "detection", "preprocessing": {"size": models.DETECTOR_SIZE,
                                "style": "darknet"}, "detection": models.DETECTOR_INFO}))  # fmt: skip
    coco = tmp_path / "coco"
    coco.mkdir()
    (coco / "instances_val2017.json").write_text(json.dumps({"images": images, "annotations": []}))
    result = run_subprocess("run", "--model", str(model), "--backend", "onnxruntime", "--dataset", f"coco:{coco}",
                            "--model-info", str(info))  # fmt: skip
    assert result.code == 2 and result.records == []
    assert says in _one_clean_line(result.err)
