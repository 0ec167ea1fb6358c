"""The model zoo: Table 1 operation counts, every variant loading and running in ONNX Runtime and
LiteRT, reduced precisions agreeing with fp32 within the tolerances of docs/zoo.md, caching, and
zoo models in runner records."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from vedliot_runner import ops
from vedliot_runner.cli import main as runner_main
from vedliot_runner.zoo import build as zoo_build
from vedliot_runner.zoo.calibration import synthetic_images

from conftest import INT8_EXACT, INT8_SATURATION, QUICK, REPO

TABLE1_GOPS = {"resnet50": 7.78, "mobilenetv3_small": 0.178, "yolov4": 60.4}
PAPER_MACS = {"mobilenetv3_small": 56e6, "mobilenetv2": 300e6}  # the architectures' own papers

# docs/zoo.md, "Agreement with fp32"
MIN_TOP1_AGREEMENT = {"fp16": 0.95, "int8": 0.60}
MIN_CORRELATION = {"fp16": 0.999, "int8": 0.95}
MAX_YOLO_REL_ERROR = {"fp16": 0.01, "int8": 0.35}


def _manifest(directory):
    return json.loads((directory / "zoo.json").read_text())


def _onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})


def _tflite(path, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path))
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], [x.shape[0], x.shape[2], x.shape[3], 3])
    interpreter.allocate_tensors()
    nhwc = x.transpose(0, 2, 3, 1)
    if inp["dtype"] == np.int8:
        scale, zero = inp["quantization"]
        nhwc = np.clip(np.round(nhwc / scale + zero), -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], nhwc)
    interpreter.invoke()
    out = interpreter.get_output_details()[0]
    y = interpreter.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * scale
    return [y]


@pytest.mark.slow
def test_table1_operation_counts(zoo_dir):
    resnet = ops.count(zoo_dir / "resnet50" / "resnet50_fp32.onnx")
    yolo = ops.count(zoo_dir / "yolov4" / "yolov4_fp32.onnx")
    assert resnet.gops == pytest.approx(TABLE1_GOPS["resnet50"], rel=0.03)
    assert yolo.gops == pytest.approx(TABLE1_GOPS["yolov4"], rel=0.03)
    assert not resnet.unresolved and not yolo.unresolved
    # MobileNetV3-Small counts to its paper's 56M multiply-adds; D3.3 Table 1 says 89M, and the
    # manifest carries the report's figure so GOPS compare with its tables (docs/zoo.md).
    mnv3 = ops.count(zoo_dir / "mobilenetv3_small" / "mobilenetv3_small_fp32.onnx")
    assert mnv3.macs == pytest.approx(PAPER_MACS["mobilenetv3_small"], rel=0.03)
    mnv2 = ops.count(zoo_dir / "mobilenetv2" / "mobilenetv2_fp32.onnx")
    assert mnv2.macs == pytest.approx(PAPER_MACS["mobilenetv2"], rel=0.03)
    models = _manifest(zoo_dir)["models"]
    assert models["mobilenetv3_small"]["ops_per_inference"]["value"] == pytest.approx(0.178e9)
    assert models["mobilenetv3_small"]["ops_per_inference"]["source"] == "published"
    assert models["resnet50"]["ops_per_inference"]["value"] == 2 * resnet.macs


@pytest.mark.slow
def test_manifest_lists_every_file_with_its_hash(zoo_dir):
    import hashlib

    models = _manifest(zoo_dir)["models"]
    # The default set; the same cache may also hold digits, built by the accuracy tests.
    assert set(models) - {"digits"} == {"resnet50", "mobilenetv3_small", "yolov4", "mobilenetv2"}
    for name, entry in models.items():
        expected = {("onnx", p) for p in ("fp32", "fp16", "int8")}
        if name != "yolov4":
            expected |= {("tflite", p) for p in ("fp32", "fp16", "int8")}
        assert {(f["format"], f["precision"]) for f in entry["files"]} == expected
        for item in entry["files"]:
            data = (zoo_dir / item["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == item["sha256"] and len(data) == item["size_bytes"]
    yolo = models["yolov4"]
    assert yolo["task"] == "detection" and yolo["labels"] == "coco-80"
    assert yolo["detection"]["strides"] == [8, 16, 32] and len(yolo["detection"]["anchors"]) == 9
    assert models["resnet50"]["preprocessing"]["crop"] == 224


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "mobilenetv3_small", "mobilenetv2"])
def test_classifier_variants_agree_with_fp32(zoo_dir, name):
    x = synthetic_images(np.random.default_rng(77), 32, 224)
    (reference,) = _onnx(zoo_dir / name / f"{name}_fp32.onnx", x)
    assert len(set(reference.argmax(1))) > 3, "synthetic inputs must not all win the same class"
    (tflite_fp32,) = _tflite(zoo_dir / name / f"{name}_fp32.tflite", x)
    # Same definition and weights in both formats: the fp32 files compute the same function.
    np.testing.assert_allclose(tflite_fp32, reference, atol=2e-3)
    saturated = []
    for precision, suffix in (("fp16", ""), ("int8", ""), ("int8", "_u8s8")):
        for fmt, run in (("onnx", _onnx), ("tflite", _tflite)):
            if suffix and fmt == "tflite":
                continue  # the second int8 form is ONNX Runtime's: an ONNX file only
            (out,) = run(zoo_dir / name / f"{name}_{precision}{suffix}.{fmt}", x)
            assert out.shape == reference.shape
            agreement = float((out.argmax(1) == reference.argmax(1)).mean())
            correlation = float(np.corrcoef(out.ravel(), reference.ravel())[0, 1])
            good = agreement >= MIN_TOP1_AGREEMENT[precision] and correlation >= MIN_CORRELATION[precision]
            if not good and (fmt, precision) == ("onnx", "int8") and not INT8_EXACT:
                saturated.append((agreement, correlation))  # ONNX Runtime's kernels on this CPU
                continue
            assert agreement >= MIN_TOP1_AGREEMENT[precision], (fmt, precision, agreement)
            assert correlation >= MIN_CORRELATION[precision], (fmt, precision, correlation)
    if saturated:
        pytest.xfail(f"{INT8_SATURATION}: agreement, correlation {saturated}")


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_tflite_files_run_as_one_xnnpack_partition(zoo_dir, precision):
    """LiteRT's CPU delegate must take each whole graph: an operator it refuses (an int8 HARD_SWISH
    did) splits the graph and runs TFLite's own kernels in between, 2.7x slower on MobileNetV3-Small."""
    from ai_edge_litert.interpreter import Interpreter

    for name in ("resnet50", "mobilenetv3_small", "mobilenetv2"):
        interpreter = Interpreter(str(zoo_dir / name / f"{name}_{precision}.tflite"), num_threads=1)
        interpreter.allocate_tensors()
        ops = [op["op_name"] for op in interpreter._get_ops_details()]
        assert ops.count("DELEGATE") == 1, (name, precision, sorted(set(ops)))


@pytest.mark.slow
def test_yolov4_variants_agree_with_fp32(zoo_dir):
    x = synthetic_images(np.random.default_rng(78), 2, 416)
    reference = _onnx(zoo_dir / "yolov4" / "yolov4_fp32.onnx", x)
    assert [r.shape for r in reference] == [(2, 255, 52, 52), (2, 255, 26, 26), (2, 255, 13, 13)]
    for precision in ("fp16", "int8"):
        outputs = _onnx(zoo_dir / "yolov4" / f"yolov4_{precision}.onnx", x)
        for out, ref in zip(outputs, reference, strict=True):
            relative = float(np.abs(out - ref).mean() / np.abs(ref).mean())
            assert relative <= MAX_YOLO_REL_ERROR[precision], (precision, relative)


@pytest.mark.slow
def test_runner_takes_zoo_models_with_manifest_ops(zoo_dir, run_inproc):
    result = run_inproc("run", "--model", "zoo:mobilenetv3_small", "--zoo", str(zoo_dir), "--backend", "onnxruntime",
                        "--precision", "int8", "--quiet", *QUICK)  # fmt: skip
    assert result.code == 0, result.err
    (record,) = result.records
    model = record["model"]
    assert model["name"] == "mobilenetv3_small" and model["task"] == "classification"
    assert model["path"].endswith("mobilenetv3_small_int8_u8s8.onnx")  # ONNX Runtime's int8 form
    assert model["ops_per_inference"]["value"] == pytest.approx(0.178e9)
    assert model["ops_per_inference"]["source"] == "manifest" and "published" in model["ops_per_inference"]["note"]
    assert model["inputs"][0]["layout"] == "NCHW"
    assert record["precision"]["effective"] == "int8"


def test_zoo_model_missing_from_zoo_is_explained(tmp_path, run_inproc):
    zoo_build.build(tmp_path / "zoo", models=["tinycnn"], precisions=["fp32"], formats=["onnx"], log=lambda _: None)
    result = run_inproc("run", "--model", "zoo:resnet50", "--zoo", str(tmp_path / "zoo"), "--backend", "onnxruntime")
    assert result.code == 2
    assert "zoo build" in result.err and "--models resnet50" in result.err
    result = run_inproc("run", "--model", "zoo:tinycnn", "--zoo", str(tmp_path / "zoo"), "--backend", "onnxruntime",
                        "--precision", "int8")  # fmt: skip
    assert result.code == 2 and "--precisions int8" in result.err


def test_user_onnx_gets_counted_ops(model_dir, run_inproc):
    result = run_inproc("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--quiet", *QUICK)
    ops_entry = result.records[0]["model"]["ops_per_inference"]
    assert ops_entry["source"] == "counted"
    assert ops_entry["value"] == 2 * ops.count(model_dir / "tiny.onnx").macs
    given = run_inproc("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", "--quiet",
                       "--ops-per-inference", "1.5e9", *QUICK, output=model_dir.parent / "given")  # fmt: skip
    assert given.records[0]["model"]["ops_per_inference"] == {"value": 1.5e9, "source": "given", "note": None}


def test_tiny_zoo_build_is_cached_and_complete(tmp_path):
    directory = tmp_path / "zoo"
    first = []
    zoo_build.build(directory, models=["tinycnn"], log=first.append)
    # 6 jobs (2 formats x 3 precisions), the ONNX int8 one in two forms
    assert sum(": built in " in line for line in first) == 7, first
    manifest = _manifest(directory)
    files = manifest["models"]["tinycnn"]["files"]
    forms = {f["int8_form"]["name"]: f for f in files if f.get("int8_form")}
    assert set(forms) == {"s8s8", "u8s8"} and forms["u8s8"]["path"] == "tinycnn/tinycnn_int8_u8s8.onnx"
    assert forms["u8s8"]["int8_form"]["activations"] == "uint8" and forms["s8s8"]["int8_form"]["activations"] == "int8"
    assert forms["u8s8"]["recipe"]["calibration"] == forms["s8s8"]["recipe"]["calibration"]  # one calibration
    assert _qdq_types(directory / forms["u8s8"]["path"]) == ({"uint8"}, {"int8"})
    assert _qdq_types(directory / forms["s8s8"]["path"]) == ({"int8"}, {"int8"})
    mtimes = {f["path"]: os.stat(directory / f["path"]).st_mtime_ns for f in files}
    second = []
    zoo_build.build(directory, models=["tinycnn"], log=second.append)
    assert sum(line.endswith(": cached") for line in second) == 6, second
    assert {f["path"]: os.stat(directory / f["path"]).st_mtime_ns for f in files} == mtimes
    int8 = next(f for f in files if f["format"] == "tflite" and f["precision"] == "int8")
    assert int8["input_dtype"] == "int8" and int8["layout"] == "NHWC"
    x = synthetic_images(np.random.default_rng(1), 4, 32)
    (reference,) = _onnx(directory / "tinycnn" / "tinycnn_fp32.onnx", x)
    (out,) = _tflite(directory / int8["path"], x)
    assert out.shape == reference.shape == (4, 10)


def test_models_built_apart_equal_one_process(tmp_path):
    """--workers 2 builds each model in a spawned process: the same files, hashes and recipes as
    one process, every model in the manifest, and the cache honoured across both ways."""
    kwargs = {"models": ["tinycnn", "mobilenetv3_small"], "formats": ["onnx"], "precisions": ["fp32", "int8"]}
    serial, apart = tmp_path / "serial", tmp_path / "apart"
    zoo_build.build(serial, log=lambda _line: None, **kwargs)
    lines = []
    zoo_build.build(apart, log=lines.append, workers=2, **kwargs)
    assert sum(": built in " in line for line in lines) == 6, lines  # fp32 and two int8 forms each

    def files(directory):
        models = _manifest(directory)["models"]
        return {f["path"]: (f["sha256"], f["recipe"]) for m in models.values() for f in m["files"]}

    assert set(_manifest(apart)["models"]) == {"tinycnn", "mobilenetv3_small"}
    assert files(apart) == files(serial) and len(files(apart)) == 6
    again = []
    zoo_build.build(apart, log=again.append, workers=2, **kwargs)
    assert sum(line.endswith(": cached") for line in again) == 4, again


def test_zoo_build_workers_must_be_positive_and_a_workers_usage_error_is_one_line(tmp_path, capsys):
    assert runner_main(["zoo", "build", "--output", str(tmp_path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers 0" in err and "Traceback" not in err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 8, 8), np.float32))  # tinycnn takes 32 x 32
    code = runner_main(["zoo", "build", "--output", str(tmp_path / "zoo"), "--models", "tinycnn,mobilenetv3_small",
                        "--formats", "onnx", "--precisions", "fp32", "--workers", "2", "--quiet",
                        "--calibration", f"tinycnn={wrong}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"--calibration tinycnn={wrong}" in err and "Traceback" not in err, err


def _qdq_types(path) -> tuple[set[str], set[str]]:
    """(activation types, weight types) of a QDQ file: the zero points' element types of the
    QuantizeLinear nodes (activations) and of the int8 weight initializers' DequantizeLinear."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    types = {i.name: helper.tensor_dtype_to_np_dtype(i.data_type).name for i in model.graph.initializer}
    quantize = {types[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2}
    weights = {types[n.input[0]] for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in types}
    return quantize, weights - {"int32"}  # biases are int32 (scale = input scale x weight scale)


def test_each_backend_takes_its_int8_form(zoo_dir, run_inproc):
    """ONNX Runtime's CPU kernels take uint8 activations; OpenVINO (and TensorRT) the symmetric form.
    The record states which ran."""
    forms = {}
    for backend in ("onnxruntime", "openvino"):
        result = run_inproc("run", "--model", "zoo:mobilenetv2", "--zoo", str(zoo_dir), "--backend", backend,
                            "--precision", "int8", "--quiet", *QUICK)  # fmt: skip
        assert result.code == 0, result.err
        (record,) = [r for r in result.records if r["software"]["backend"]["name"] == backend]
        forms[backend] = record["model"]["quantization"]
        assert record["model"]["path"].endswith("_int8_u8s8.onnx" if backend == "onnxruntime" else "_int8.onnx")
    assert forms["onnxruntime"] == {"name": "u8s8", "activations": "uint8", "weights": "int8", "per_channel": True,
                                    "symmetric_activations": False}  # fmt: skip
    assert forms["openvino"]["name"] == "s8s8" and forms["openvino"]["activations"] == "int8"


def test_zoo_build_bad_arguments(tmp_path, capsys):
    assert runner_main(["zoo", "build", "--output", str(tmp_path), "--models", "alexnet"]) == 2
    err = capsys.readouterr().err
    assert "alexnet" in err and "resnet50" in err and "Traceback" not in err
    assert runner_main(["zoo", "build", "--output", str(tmp_path), "--precisions", "int4"]) == 2
    assert runner_main(["zoo", "build", "--output", str(tmp_path), "--calibration", "resnet50=/nonexistent.npy"]) == 2


def test_digits_is_trained_and_its_files_agree(tmp_path):
    """The trained demo model: its ONNX and TFLite files hold the trained weights (they agree with
    the numpy reference computed at training time), and the held-out set is a folder dataset."""
    import onnxruntime

    from vedliot_runner.datasets import imagenet
    from vedliot_runner.preprocess import classification_input, load_rgb
    from vedliot_runner.zoo import build as zoo_build
    from vedliot_runner.zoo import digits

    directory = REPO / ".cache" / "zoo"
    manifest = zoo_build.build(directory, models=["digits"], log=lambda _line: None)
    entry = manifest["models"]["digits"]
    assert entry["holdout_top1"] >= 90.0 and entry["dataset"] == {"kind": "imagenet", "path": "digits/val"}
    data = imagenet.load(directory / entry["dataset"]["path"])
    assert (data.name, len(data.samples)) == ("digits", 359)
    x = np.stack([classification_input(load_rgb(p), digits.PREPROCESSING) for p, _ in data.samples])
    labels = np.array([label for _, label in data.samples])
    session = onnxruntime.InferenceSession(str(directory / "digits" / "digits_fp32.onnx"))
    top1 = 100 * float((session.run(None, {"input": x})[0].argmax(axis=1) == labels).mean())
    assert top1 == pytest.approx(entry["holdout_top1"], abs=0.3)
    # Calibration came from the training split, not synthetic blocks.
    int8 = next(f for f in entry["files"] if f["format"] == "onnx" and f["precision"] == "int8")
    assert int8["recipe"]["calibration"].startswith("file:") and int8["recipe"]["weights"].startswith("trained:")
