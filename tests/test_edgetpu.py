"""--backend edgetpu: real compiled models (tests/data/edgetpu), the real LiteRT interpreter, the
real libedgetpu (pycoral's libedgetpu_bin, the std build) where no TPU is needed, and the doubles
of libedgetpu's C API and of tflite_runtime with a TPU attached (tests/fakes) where one is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import contract
from vedliot_runner import edgetpu_device

from conftest import LIBEDGETPU_DOUBLE, QUICK

DATA = Path(__file__).parent / "data" / "edgetpu"
REAL_LIB = DATA / "libedgetpu-k8-throttled" / "libedgetpu.so.1"
LSTM = "keras_lstm_mnist_ptq"


@pytest.fixture
def compiled(tmp_path) -> Path:
    return contract.edgetpu_compiled(tmp_path / "m" / "model.tflite")


def _run(run_subprocess, model, *options, extra=()):
    args = ["run", "--model", str(model), "--backend", "edgetpu", "--precision", "int8", *QUICK, "--quiet", *extra]
    for option in options:
        args += ["--backend-option", option]
    return run_subprocess(*args)


def test_a_run_records_the_tpu_and_what_fell_back_to_the_cpu(run_subprocess, compiled, monkeypatch):
    monkeypatch.setenv("VEDLIOT_FAKE_EDGETPU", "usb:/sys/bus/usb/devices/2-1;pci:/dev/apex_0")
    shutil.copy(DATA / "N32-nMACs41287680_quant_edgetpu.log", compiled.with_suffix(".log"))
    result = _run(run_subprocess, compiled, f"library={LIBEDGETPU_DOUBLE}", "device=pci")
    assert result.code == 0, result.err
    (record,) = result.records
    options = record["config"]["backend_options"]
    assert options["tpu"] == "pci /dev/apex_0" and options["interface"] == "pci"
    assert options["runtime"].endswith("RuntimeVersion(14)")
    # the graph: one Edge TPU subgraph, the input QUANTIZE left on the CPU; the compiler's log: 2 ops mapped
    assert (options["tpu_subgraphs"], options["cpu_ops"], options["cpu_op_names"]) == (1, 1, "QUANTIZE")
    assert options["tpu_ops"] == 2 and options["compiler"] == "16.0.384591198"
    assert record["precision"]["effective"] == "int8" and record["model"]["format"] == "edgetpu"
    assert record["timing"]["first_inference_ms"] > 0


def test_a_fully_mapped_model_on_the_first_usb_tpu(run_subprocess, tmp_path):
    for name in (f"{LSTM}.tflite", f"{LSTM}_edgetpu.tflite"):
        shutil.copy(DATA / name, tmp_path / name)
    result = _run(run_subprocess, tmp_path / f"{LSTM}_edgetpu.tflite", f"library={LIBEDGETPU_DOUBLE}")
    assert result.code == 0, result.err
    options = result.records[0]["config"]["backend_options"]
    assert options["cpu_ops"] == 0 and options["cpu_op_names"] is None and options["tpu"].startswith("usb ")


@pytest.mark.parametrize(
    "setup, options, expected",
    [
        # the real libedgetpu on a host with no TPU: its device list is empty
        ({}, [f"library={REAL_LIB}"], "no Edge TPU found (libedgetpu lists: none)"),
        ({"VEDLIOT_FAKE_EDGETPU": "pci:/dev/apex_0"}, ["device=usb"], "no Edge TPU matching device=usb found"),
        ({"VEDLIOT_FAKE_EDGETPU_BUSY": "1"}, [], "did not open /sys/bus/usb/devices/2-1"),
        ({}, ["library=libedgetpu-missing.so.1"], "Edge TPU runtime libedgetpu-missing.so.1 is not installed"),
    ],
)
def test_no_tpu_busy_tpu_and_no_runtime_are_unsupported_records(
    run_subprocess, compiled, monkeypatch, setup, options, expected
):
    for key, value in setup.items():
        monkeypatch.setenv(key, value)
    if not any(o.startswith("library=") for o in options):
        options = [*options, f"library={LIBEDGETPU_DOUBLE}"]
    result = _run(run_subprocess, compiled, *options)
    assert result.code == 3, result.err
    (record,) = result.records
    assert record["status"] == "unsupported" and expected in record["error"]["message"]
    assert "Traceback" not in result.err and expected in result.err


def test_a_model_not_compiled_for_the_tpu_is_unsupported(run_subprocess, tmp_path):
    model = tmp_path / "plain.tflite"
    shutil.copy(DATA / f"{LSTM}.tflite", model)
    result = _run(run_subprocess, model, f"library={LIBEDGETPU_DOUBLE}")
    assert result.code == 3
    message = result.records[0]["error"]["message"]
    assert (
        "not compiled for the Edge TPU (no edgetpu-custom-op" in message
        and "edgetpu_compiler -s plain.tflite" in message
    )


def test_a_batch_other_than_the_compiled_one_is_unsupported(run_subprocess, compiled):
    result = _run(run_subprocess, compiled, f"library={LIBEDGETPU_DOUBLE}", extra=["--batch-size", "4"])
    assert result.code == 3 and "batch compiled in" in result.records[0]["error"]["message"]


def test_a_bad_device_option_is_one_line_and_exit_2(run_subprocess, compiled):
    result = _run(run_subprocess, compiled, "device=gpu:0")
    assert result.code == 2 and result.records == []
    assert (
        result.err.strip()
        == "vedliot-runner: error: --backend-option device=gpu:0: expected usb, usb:N, pci, pci:N or :N"
    )


def test_the_real_libedgetpu_names_its_runtime_and_lists_no_tpu_here():
    runtime = edgetpu_device.open_runtime(str(REAL_LIB))
    assert runtime.version == "BuildLabel(COMPILER=6.3.0 20170516,DATE=redacted,TIME=redacted), RuntimeVersion(14)"
    assert runtime.devices == () and edgetpu_device.runtime_number(runtime.version) == "14"


@pytest.mark.parametrize(
    "wanted, expected",
    [(None, "usb0"), ("usb", "usb0"), ("usb:1", "usb1"), ("pci", "pci0"), (":2", "usb1"), ("pci:1", None)],
)
def test_device_option_picks_as_libedgetpu_does(wanted, expected):
    devices = (
        edgetpu_device.EdgeTpu("usb", "usb0"),
        edgetpu_device.EdgeTpu("pci", "pci0"),
        edgetpu_device.EdgeTpu("usb", "usb1"),
    )
    found = edgetpu_device.select(devices, wanted)
    assert (found.path if found else None) == expected


def test_std_or_max_comes_from_the_package_database():
    # the format string's output for an installed and a removed package, as dpkg-query prints them
    text = "libedgetpu1-max\t16.0\tii \nlibedgetpu1-std\t\tun \n"
    assert edgetpu_device.parse_dpkg_query(text) == [("libedgetpu1-max", "16.0")]
    assert edgetpu_device.clock("libedgetpu1-max") == "max" and edgetpu_device.clock("libedgetpu1-std") == "std"
    # on this host none is installed: dpkg-query answers, and nothing is claimed
    assert edgetpu_device.installed_package() == (None, None)


def test_the_aggregator_warns_when_operators_fell_back(run_subprocess, compiled, tmp_path):
    from vedliot_aggregator import collect, metrics
    from vedliot_aggregator.catalog import load as load_catalog

    assert _run(run_subprocess, compiled, f"library={LIBEDGETPU_DOUBLE}").code == 0
    (row,) = metrics.frame(collect.collect([tmp_path / "out"]), load_catalog()).to_dict("records")
    assert "1 operator(s) fell back to the CPU (QUANTIZE)" in row["warnings"]
