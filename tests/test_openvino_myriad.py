"""The openvino backend on OpenVINO 2022.3 LTS (the last with Intel's MYRIAD plugin) and on today's,
with the real runtimes: 2022.3.2 from PyPI on Python 3.8 (the Myriad image's Python), in a venv of
its own. No Myriad X is here and the PyPI wheel has no MYRIAD plugin, so the MYRIAD path is driven
through OpenVINO's own plugin registry: Core.register_plugin() puts a real plugin of the wheel
under the name MYRIAD (the CPU plugin: a device that answers; the HETERO plugin: a plugin that loads
and lists no device of its own, as the MYRIAD plugin does with no stick)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import prepare

from conftest import QUICK, REPO, assert_valid_records, prepared, run_runner


@pytest.fixture(scope="module")
def ov2022() -> Path:
    return prepared(prepare.ov2022)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "runner" / "src")}


def _runner(python: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(python), "-m", "vedliot_runner", *args]
    return subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_openvino_2022_3_runs_through_openvino_runtime(ov2022, model_dir, tmp_path, mode):
    result = _runner(ov2022, "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "openvino", "--mode", mode,
                     "--output", str(tmp_path), "--quiet", *QUICK)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = assert_valid_records(tmp_path)
    options = record["config"]["backend_options"]
    assert record["software"]["backend"]["version"].startswith("2022.3.2-")
    assert options["openvino"].startswith("2022.3.2-") and options["FULL_DEVICE_NAME"]
    assert (
        record["precision"]["effective"] == "fp32" and "INFERENCE_PRECISION_HINT f32" in record["precision"]["detail"]
    )


def test_the_pypi_wheel_has_no_myriad_plugin_and_says_which_image_has(ov2022, model_dir, tmp_path):
    result = _runner(ov2022, "run", "--model", str(model_dir / "tiny.onnx"), "--backend", "openvino", "--precision",
                     "fp16", "--backend-option", "device=MYRIAD", "--output", str(tmp_path))  # fmt: skip
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert "this OpenVINO 2022.3.2 has no MYRIAD plugin (the PyPI wheel ships none)" in result.stderr
    assert "openvino/ubuntu20_runtime:2022.3" in result.stderr


_MYRIAD = """
import json, os, sys
import openvino
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.openvino import OpenVinoBackend
from vedliot_runner.errors import BenchError
backend = OpenVinoBackend(BackendSettings(options={"device": "MYRIAD"}, precision=sys.argv[2], mode=sys.argv[3]))
plugin = os.path.join(os.path.dirname(openvino.__file__), "libs", "libopenvino_%s_plugin.so" % sys.argv[4])
backend._core.register_plugin(plugin, "MYRIAD")
try:
    inputs, outputs = backend.load(sys.argv[1])
except BenchError as exc:
    print(json.dumps({"error": str(exc)}))
    sys.exit(0)
print(json.dumps({"precision": backend.effective_precision(), "options": backend.resolved_options(),
                  "requests": backend.default_requests_in_flight(), "config": backend._config}))
"""


def _as_myriad(python: Path, model: Path, precision: str, plugin: str = "intel_cpu", mode: str = "latency") -> dict:
    command = [str(python), "-c", _MYRIAD, str(model), precision, mode, plugin]
    out = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_myriad_path_on_a_registered_plugin(ov2022, model_dir):
    model = model_dir / "tiny.onnx"
    found = _as_myriad(ov2022, model, "fp16", mode="throughput")
    # no precision or thread hint (the MYRIAD plugin refuses keys it does not know), fp16 stated
    assert found["config"] == {"PERFORMANCE_HINT": "THROUGHPUT"}
    # read back from the runtime graph, as on every device (the stand-in CPU plugin computes in fp32
    # or bf16; the MYRIAD plugin's runtime graph says FP16), with the device's capabilities
    assert found["precision"][0] in ("fp32", "bf16") and "; OPTIMIZATION_CAPABILITIES " in found["precision"][1]
    assert "FP32" in found["precision"][1].split("OPTIMIZATION_CAPABILITIES")[1]
    assert found["options"]["FULL_DEVICE_NAME"] and found["options"]["openvino"].startswith("2022.3.2")
    assert found["requests"] >= 1  # the plugin's OPTIMAL_NUMBER_OF_INFER_REQUESTS
    refused = _as_myriad(ov2022, model, "fp32")
    assert "MYRIAD executes fp16 only: run with --precision fp16" in refused["error"]
    no_stick = _as_myriad(ov2022, model, "fp16", plugin="hetero")
    assert "no Myriad X device found (MYRIAD plugin present; available: CPU)" in no_stick["error"]
    assert "--device-cgroup-rule='c 189:* rmw' -v /dev/bus/usb:/dev/bus/usb" in no_stick["error"]


def test_todays_openvino_says_myriad_was_dropped(model_dir, run_inproc):
    result = run_inproc("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "openvino", "--precision", "fp16",
                        "--backend-option", "device=MYRIAD", *QUICK)  # fmt: skip
    assert result.code == 3
    assert "has no MYRIAD plugin (Intel dropped the Myriad X after 2022.3 LTS)" in result.err
    assert "vedliot/bench-myriad" in result.err


def test_myriad_suite_on_a_machine_without_one(zoo_dir, tmp_path):
    from vedliot_runner import edge_platform

    assert edge_platform.myriad() is None
    out = tmp_path / "out"
    proc = run_runner("suite", "--target", "myriad", "--zoo", str(zoo_dir), "--models", "mobilenetv3_small",
                      "--output", str(out), "--quick")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "platform: no Myriad X recognised here; records name the target 'myriad'" in proc.stdout + proc.stderr
    (record,) = assert_valid_records(out)
    assert record["status"] == "unsupported" and record["precision"]["requested"] == "fp16"
    assert record["config"]["backend_options"]["device"] == "MYRIAD"
