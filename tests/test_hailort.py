"""--backend hailort against the hailo_platform double (tests/fakes/hailo_platform), which follows
pyhailort.py of HailoRT 4.17 (vstreams only) and 4.23 (InferModel too): names, signatures,
exception classes and messages from tests/data/hailort-api."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from vedliot_aggregator.cli import cli
from vedliot_runner.backends import backend_class
from vedliot_runner.backends.base import BackendSettings

import models
from conftest import QUICK


@pytest.fixture
def hef_file(tmp_path):
    from hailo_platform import hef

    return hef.write(models.tiny(tmp_path / "tiny.onnx"), tmp_path / "tiny.hef")


def _run(run_subprocess, model, *options, extra=()):
    args = ["run", "--model", str(model), "--backend", "hailort", "--precision", "int8", *QUICK, "--quiet", *extra]
    for option in options:
        args += ["--backend-option", option]
    return run_subprocess(*args)


@pytest.mark.parametrize("version, api", [("4.23.0", "infer_model"), ("4.17.0", "vstreams")])
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_each_api_generation_runs_and_names_the_device(run_subprocess, hef_file, monkeypatch, version, api, mode):
    monkeypatch.setenv("VEDLIOT_FAKE_HAILORT_VERSION", version)
    result = _run(run_subprocess, hef_file, extra=["--mode", mode, "--batch-size", "2"])
    assert result.code == 0, result.err
    (record,) = result.records
    options = record["config"]["backend_options"]
    assert options["api"] == api and options["architecture"] == "HAILO8" and options["device_id"] == "0000:01:00.0"
    assert options["firmware"].startswith(version) and options["serial"]
    assert record["software"]["backend"] == {"name": "hailort", "version": version}
    assert record["precision"]["effective"] == "int8" and "by the runner, untimed" in record["precision"]["detail"]
    assert record["model"]["format"] == "hef" and record["timing"]["iterations"] >= 5


def test_quantization_outside_or_inside_the_timed_call(hef_file):
    """uint8 (default): the runner quantizes and de-quantizes with each tensor's qp_scale/qp_zp;
    float32: HailoRT does it, and the same data gives the same result within one step."""
    x = np.random.default_rng(0).random((1, 32, 32, 3), dtype=np.float32)  # HailoRT's NHWC
    results = {}
    for fmt in ("uint8", "float32"):
        cls = backend_class("hailort")
        backend = cls(BackendSettings(options={"input_format": fmt, "output_format": fmt}))
        inputs, outputs = backend.load(hef_file)
        assert inputs[0].dtype == fmt and outputs[0].dtype == fmt
        fed = backend.encode_input(inputs[0].name, x, inputs[0].dtype)
        assert fed.dtype == np.dtype(fmt)
        results[fmt] = backend.decode_output(0, backend.predict({inputs[0].name: fed})[0])
        backend.close()
    np.testing.assert_allclose(results["uint8"], results["float32"], atol=2 / 64 + 1 / 255 * 10)


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"VEDLIOT_FAKE_HAILO": ""}, "no Hailo device found (Device.scan() lists none)"),
        (
            {"VEDLIOT_FAKE_HAILO_BUSY": "1"},
            "no free Hailo device (libhailort failed with error: 74 (HAILO_OUT_OF_PHYSICAL_DEVICES))",
        ),
        (
            {"VEDLIOT_FAKE_HAILO_DRIVER": "4.20.0"},
            "and the host's hailo_pci driver 4.20.0 differ (error 76, HAILO_INVALID_DRIVER_VERSION)",
        ),
    ],
)
def test_no_device_busy_device_and_driver_mismatch_are_unsupported(
    run_subprocess, hef_file, tmp_path, monkeypatch, env, expected
):
    root = tmp_path / "host"
    (root / "sys/module/hailo_pci").mkdir(parents=True)
    (root / "sys/module/hailo_pci/version").write_text("4.20.0\n")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(root))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = _run(run_subprocess, hef_file)
    assert result.code == 3, result.err
    (record,) = result.records
    assert record["status"] == "unsupported" and expected in record["error"]["message"]
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "version, cause", [("4.23.0", "HEF file is not compatible with device"), ("4.17.0", "Invalid HEF")]
)
def test_a_hef_for_another_architecture_is_unsupported(run_subprocess, tmp_path, monkeypatch, version, cause):
    from hailo_platform import hef

    monkeypatch.setenv("VEDLIOT_FAKE_HAILORT_VERSION", version)
    model = hef.write(models.tiny(tmp_path / "t.onnx"), tmp_path / "t.hef", arch="HAILO15H")
    result = _run(run_subprocess, model)
    assert result.code == 3, result.err
    message = result.records[0]["error"]["message"]
    assert "HailoRT refuses it on HAILO8" in message and cause in message and "--hw-arch hailo8" in message


def test_a_hailo8l_hef_runs_on_a_hailo8(run_subprocess, tmp_path):
    from hailo_platform import hef

    model = hef.write(models.tiny(tmp_path / "t.onnx"), tmp_path / "t.hef", arch="HAILO8L")
    assert _run(run_subprocess, model).code == 0


def test_infer_model_api_on_an_old_hailort_is_unsupported(run_subprocess, hef_file, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_HAILORT_VERSION", "4.17.0")
    result = _run(run_subprocess, hef_file, "api=infer_model")
    assert result.code == 3 and "api=infer_model needs HailoRT 4.18 or later" in result.records[0]["error"]["message"]


def test_a_file_that_is_not_a_hef_is_one_line_and_exit_2(run_subprocess, tmp_path):
    bogus = tmp_path / "bogus.hef"
    bogus.write_bytes(b"not a hef")
    result = _run(run_subprocess, bogus)
    assert result.code == 2, result.err
    assert "bogus.hef: HailoRT cannot read it as a HEF (Invalid HEF" in result.err and "Traceback" not in result.err


def test_power_measured_from_another_process_while_the_backend_holds_the_device(run_subprocess, hef_file):
    result = _run(run_subprocess, hef_file, extra=["--power", "hailo:interval_ms=20", "--min-seconds", "0.5"])
    assert result.code == 0, result.err
    power = result.records[0]["power"]
    assert power["source"] == "hailo" and power["details"]["process"] == "separate (hailo_meter)"
    window = result.records[0]["timing"]
    inside = [t for t in power["samples"]["t_ns"] if window["window_start_ns"] <= t <= window["window_end_ns"]]
    assert len(inside) >= 5 and set(power["samples"]["values"]["hailo"]) == {2.5}


@pytest.mark.parametrize("formats", [("uint8", "uint8"), ("float32", "float32")])
def test_accuracy_of_a_users_hef_with_model_info(digits_zoo, run_subprocess, tmp_path, formats):
    """A .hef not from the zoo, its recipe from --model-info: the trained digits model, quantized
    by the runner (uint8) or by "HailoRT" (float32), keeps its accuracy."""
    from hailo_platform import hef

    entry = json.loads((digits_zoo / "zoo.json").read_text())["models"]["digits"]
    info = tmp_path / "digits.json"
    info.write_text(json.dumps({**{k: v for k, v in entry.items() if k != "files"}, "layout": "NHWC"}))
    model = hef.write(digits_zoo / "digits" / "digits_fp32.onnx", tmp_path / "digits.hef",
                      input_quant=(2 / 255, 128.0), output_quant=(0.25, 128.0))  # fmt: skip
    dataset = "imagenet:{}".format(digits_zoo / "digits" / "val")
    result = _run(run_subprocess, model, f"input_format={formats[0]}", f"output_format={formats[1]}",
                  extra=["--dataset", dataset, "--model-info", str(info), "--batch-size", "8"])  # fmt: skip
    assert result.code == 0, result.err
    (record,) = result.records
    assert record["config"]["mode"] == "accuracy" and len(record["accuracy"]["predictions"]["sample_ids"]) > 300
    scored = CliRunner().invoke(cli, ["accuracy", "--json", str(tmp_path / "out")])
    (row,) = [json.loads(line) for line in scored.output.splitlines() if line.startswith("{")]
    assert row["top1"] >= 90.0, row  # the float model's holdout top-1 is 98.6
