"""Compiled files in the zoo: `zoo edgetpu` (edgetpu_compiler's double answers with the real
compiler's recorded outputs, tests/fakes/edgetpu_compiler_fake.py) and `zoo add` (a .hef), then the
edge suites run them from the zoo and name the platform they recognise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vedliot_runner.zoo import manifest

import models
from conftest import LIBEDGETPU_DOUBLE, assert_valid_records, run_runner

DATA = Path(__file__).parent / "data" / "edgetpu"


@pytest.fixture
def zoo(tmp_path) -> Path:
    """A zoo of two int8 .tflite models: `conv` (the recorded compiler input) and `lstm`."""
    directory = tmp_path / "zoo"
    directory.mkdir()
    data = manifest.empty(0, 1)
    for name, source in (("conv", "N32-nMACs41287680_quant.tflite"), ("lstm", "keras_lstm_mnist_ptq.tflite")):
        shutil.copy(DATA / source, directory / f"{name}.int8.tflite")
        files = [{"format": "tflite", "precision": "int8", "path": f"{name}.int8.tflite"}]
        data["models"][name] = {"task": "classification", "files": files,
                                "ops_per_inference": {"value": 82575360.0, "source": "test"}}  # fmt: skip
    manifest.save(directory, data)
    return directory


def test_zoo_edgetpu_compiles_what_it_can_and_records_the_compiler(zoo):
    proc = run_runner("zoo", "edgetpu", "--zoo", str(zoo), "--json")
    assert proc.returncode == 1  # lstm failed
    results = {r["model"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert results["conv"]["ok"] and results["conv"]["compiler"]["version"] == "16.0.384591198"
    assert (results["conv"]["compiler"]["tpu_ops"], results["conv"]["compiler"]["cpu_ops"]) == (2, 1)
    assert not results["lstm"]["ok"] and "large activation tensors" in results["lstm"]["why"]
    item = manifest.find_file(manifest.load(zoo)["models"]["conv"], "edgetpu", "int8")
    assert item["path"] == "compiled/conv.int8_edgetpu.tflite" and item["compiler"]["tpu_ops"] == 2
    assert (zoo / "compiled" / "conv.int8_edgetpu.log").is_file()
    proc = run_runner("zoo", "edgetpu", "--zoo", str(zoo), "--compiler", "no-such-compiler")
    assert (
        proc.returncode == 2 and "no-such-compiler is not installed" in proc.stderr and "Traceback" not in proc.stderr
    )


def test_coral_suite_runs_the_compiled_zoo_file_and_names_the_m2_module(zoo, tmp_path, monkeypatch):
    assert run_runner("zoo", "edgetpu", "--zoo", str(zoo), "--models", "conv").returncode == 0
    monkeypatch.setenv("VEDLIOT_FAKE_EDGETPU", "pci:/dev/apex_0")
    out = tmp_path / "out"
    proc = run_runner("suite", "--target", "coral", "--zoo", str(zoo), "--models", "conv,lstm", "--quick",
                      "--output", str(out), "--backend-option", f"library={LIBEDGETPU_DOUBLE}")  # fmt: skip
    assert proc.returncode == 2, proc.stderr  # lstm has no compiled file: one line, the suite stops
    assert "platform: coral_m2 (libedgetpu: pci)" in proc.stdout + proc.stderr
    assert (
        "zoo:lstm: no edgetpu file at int8" in proc.stdout + proc.stderr and "zoo edgetpu" in proc.stdout + proc.stderr
    )
    (record,) = assert_valid_records(out)
    assert record["target"]["name"] == "coral_m2" and record["status"] == "ok"
    assert record["config"]["backend_options"]["cpu_ops"] == 1


def test_a_hef_added_to_the_zoo_runs_in_the_hailo8_suite(zoo, tmp_path):
    from hailo_platform import hef

    compiled = hef.write(models.tiny(tmp_path / "t.onnx"), tmp_path / "conv.hef")
    proc = run_runner("zoo", "add", "--zoo", str(zoo), "--model", "conv", "--file", str(compiled))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    proc = run_runner("suite", "--target", "hailo8", "--zoo", str(zoo), "--models", "conv", "--output", str(out),
                      "--min-seconds", "0.2")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = assert_valid_records(out)
    assert {(r["config"]["batch_size"], r["config"]["mode"]) for r in records} == {(1, "latency"), (8, "throughput")}
    assert {r["target"]["name"] for r in records} == {"hailo8"} and {r["precision"]["requested"] for r in records} == {
        "int8"
    }
    bad = run_runner("zoo", "add", "--zoo", str(zoo), "--model", "conv", "--file", str(tmp_path / "t.onnx"))
    assert bad.returncode == 2 and "not a compiled file the zoo takes" in bad.stderr


def test_imx8mp_suite_recognises_the_board_from_its_device_tree(zoo, tmp_path, monkeypatch):
    root = tmp_path / "host" / "proc" / "device-tree"
    root.mkdir(parents=True)
    # as the mainline kernel's imx8mp-evk.dts declares them (tests/data/edge-identity/SOURCES.md)
    (root / "model").write_bytes(b"NXP i.MX8MPlus EVK board\x00")
    (root / "compatible").write_bytes(b"fsl,imx8mp-evk\x00fsl,imx8mp\x00")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(tmp_path / "host"))
    out = tmp_path / "out"
    proc = run_runner(
        "suite", "--target", "imx8mp", "--zoo", str(zoo), "--models", "lstm", "--quick", "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    (record,) = assert_valid_records(out)
    assert record["target"]["name"] == "imx8mp" and record["software"]["backend"]["name"] == "vx"


def test_the_coral_dev_board_is_recognised_by_its_device_tree(tmp_path, monkeypatch):
    from vedliot_runner import edge_platform

    root = tmp_path / "proc" / "device-tree"
    root.mkdir(parents=True)
    (root / "model").write_bytes(b"Google i.MX8MQ Phanbell\x00")
    (root / "compatible").write_bytes(b"google,imx8mq-phanbell\x00fsl,imx8mq\x00")
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(tmp_path))
    found = edge_platform.edgetpu(str(LIBEDGETPU_DOUBLE))
    assert found.catalog_id == "coral_dev_board" and found.name == "Google i.MX8MQ Phanbell"
    assert edge_platform.imx8mp() is None  # an i.MX 8M Quad, not Plus
    monkeypatch.setenv("VEDLIOT_HOST_ROOT", str(tmp_path / "nothing"))
    assert edge_platform.edgetpu(str(LIBEDGETPU_DOUBLE)).name == "Coral USB Accelerator"


def test_hailo_architecture_names_the_target(monkeypatch):
    from vedliot_runner import edge_platform

    assert edge_platform.hailo().catalog_id == "hailo8"
    monkeypatch.setenv("VEDLIOT_FAKE_HAILO_ARCH", "HAILO8L")
    found = edge_platform.hailo()
    assert found.catalog_id is None and found.name == "Hailo HAILO8L (0000:01:00.0)"
    monkeypatch.setenv("VEDLIOT_FAKE_HAILO", "")
    assert edge_platform.hailo() is None
