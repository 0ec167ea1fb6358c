"""The runner must work on Python 3.8 (JetPack 5) with numpy only: run it there for real."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import prepare

from conftest import REPO, assert_valid_records, prepared


@pytest.fixture(scope="module")
def py38() -> Path:
    return prepared(prepare.py38)


def _run(python: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "runner" / "src")}
    return subprocess.run(
        [str(python), "-m", "vedliot_runner", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_runner_compiles_and_reports_on_python38(py38):
    compiled = subprocess.run(
        [str(py38), "-m", "compileall", "-q", str(REPO / "runner" / "src")], capture_output=True, text=True
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    info = _run(py38, "info", "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["host"]["python"].startswith("3.8.")
    (ort,) = [b for b in data["backends"] if b["backend"] == "onnxruntime"]
    assert "pip install 'vedliot-runner[onnxruntime]'" in ort["problem"]


def test_peak_runs_on_python38(py38, tmp_path):
    from vedliot_aggregator.schema import peak_problems

    result = _run(
        py38, "peak", "--precision", "fp32", "--seconds", "0.1", "--repeats", "1", "-o", str(tmp_path), "--json"
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert peak_problems(record) == [] and record["host"]["python"].startswith("3.8.")


def test_record_written_on_python38_is_valid(py38, model_dir, tmp_path):
    result = _run(
        py38,
        "run",
        "--model",
        str(model_dir / "tiny.onnx"),
        "--backend",
        "onnxruntime",
        "--output",
        str(tmp_path),
        "--quiet",
    )
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    (record,) = assert_valid_records(tmp_path)
    assert record["status"] == "unsupported" and record["host"]["python"].startswith("3.8.")


@pytest.fixture(scope="module")
def py38_accuracy() -> Path:
    return prepared(prepare.py38_accuracy)


def test_accuracy_run_on_python38(py38_accuracy, model_dir, tmp_path):
    from PIL import Image

    for i in range(4):
        folder = tmp_path / "data" / f"c{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 36), (60 * i, 0, 0)).save(folder / f"{i}.png")
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"task": "classification", "preprocessing": {"resize_shorter": 32, "crop": 32}}))
    out = tmp_path / "out"
    result = _run(py38_accuracy, "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
                  "--dataset", "imagenet:{}".format(tmp_path / "data"), "--model-info", str(info),
                  "--batch-size", "3", "--output", str(out), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = assert_valid_records(out)
    assert record["accuracy"]["samples_evaluated"] == 4 and record["accuracy"]["padded_samples"] == 2
    assert record["host"]["python"].startswith("3.8.")
