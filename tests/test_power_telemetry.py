"""Clocks, temperature, load and throttle reasons sampled with the power (NVML and tegrastats),
and the aggregator's warning when clocks were throttled or moved during the timed window."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import doubles
from test_power import _fake_tegrastats, _run, sampler_for
from vedliot_aggregator import collect, metrics, records
from vedliot_aggregator.catalog import load as load_catalog
from vedliot_runner.power.tegrastats import parse_telemetry

TEGRASTATS = Path(__file__).parent / "data" / "tegrastats"


def _lines(name: str) -> list[str]:
    return [line for line in (TEGRASTATS / name).read_text().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("agx-orin-jp6.txt", {"gpu_load_pct": 0.0, "gpu_clock_mhz": 305.0, "memory_clock_mhz": 2133.0}),
        (
            "nano-jpUNK.txt",
            {"gpu_load_pct": 0.0, "gpu_clock_mhz": 76.0, "memory_clock_mhz": 204.0, "gpu_temperature_c": 36.0},
        ),
        (
            "orin-nano-jp6.txt",
            {"gpu_load_pct": 63.0, "gpu_clock_mhz": 621.0, "memory_clock_mhz": 2133.0, "gpu_temperature_c": 53.343},
        ),
        ("orin-nano-jpUNK.txt", {"gpu_load_pct": 0.0, "gpu_temperature_c": 49.031}),
        (
            "xavier-nx-jpUNK.txt",
            {"gpu_load_pct": 62.0, "gpu_clock_mhz": 306.0, "memory_clock_mhz": 1600.0, "gpu_temperature_c": 43.0},
        ),
    ],
)
def test_telemetry_of_real_tegrastats_lines(name, expected):
    found = parse_telemetry(_lines(name)[0])
    assert {k: v for k, v in found.items() if k in expected} == expected


def test_a_temperature_sensor_that_is_off_reads_none():
    line = _lines("agx-orin-jpUNK.txt")[1]  # ... GPU@-256C ...
    assert "GPU@-256C" in line and parse_telemetry(line)["gpu_temperature_c"] is None


def test_the_nvml_double_matches_real_nvidia_ml_py():
    """Names, constant values and parameters of the calls the source makes, from the real pynvml."""
    names = ["NVML_CLOCK_GRAPHICS", "NVML_CLOCK_MEM", "NVML_TEMPERATURE_GPU", "nvmlClocksThrottleReasonSwPowerCap",
             "nvmlClocksThrottleReasonSwThermalSlowdown", "nvmlClocksThrottleReasonGpuIdle"]  # fmt: skip
    calls = ["nvmlDeviceGetClockInfo", "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksThrottleReasons"]
    probe = (f"import json, inspect, pynvml; print(json.dumps([{{n: getattr(pynvml, n) for n in {names!r}}}, "
             f"{{c: list(inspect.signature(getattr(pynvml, c)).parameters) for c in {calls!r}}}]))")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    constants, signatures = json.loads(out.stdout)
    double = doubles.pynvml()
    assert {n: getattr(double, n) for n in names} == constants
    for call, parameters in signatures.items():
        assert list(inspect.signature(getattr(double, call)).parameters) == parameters, call


def test_nvml_samples_clocks_and_throttle_reasons(monkeypatch):
    fake = doubles.pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = sampler_for("nvml:interval_ms=20")
    sampler.start()
    time.sleep(0.2)
    fake.throttling = True
    time.sleep(0.2)
    sampler.stop()
    telemetry = sampler.to_record(None).telemetry
    assert telemetry.units == {"gpu_clock_mhz": "MHz", "memory_clock_mhz": "MHz", "temperature_c": "C",
                               "throttle_reasons": "bitmask"}  # fmt: skip
    assert set(telemetry.values["gpu_clock_mhz"]) == {1410.0, 1095.0}
    assert set(telemetry.values["throttle_reasons"]) == {0.0, 36.0}
    assert len(telemetry.t_ns) == len(telemetry.values["temperature_c"])


def _window_run(model_dir, tmp_path, monkeypatch, throttle_every_s: float | None) -> dict:
    fake = doubles.pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    out = tmp_path / "out"
    done = threading.Event()

    def toggle() -> None:
        # Toggled rather than set once: the timed window starts when loading and warm-up end, which
        # a loaded CI machine delays by seconds, and every 1.2 s window must see both clock states.
        while not done.wait(throttle_every_s):
            fake.throttling = not fake.throttling

    if throttle_every_s is not None:
        threading.Thread(target=toggle, daemon=True).start()
    try:
        assert _run(model_dir, out, "--power", "nvml:interval_ms=20", "--idle-seconds", "0.2", "--min-seconds",
                    "1.2", "--min-power-seconds", "0") == 0  # fmt: skip
    finally:
        done.set()
    (row,) = metrics.frame(collect.collect([out]), load_catalog()).to_dict("records")
    return row


def test_the_aggregator_warns_when_clocks_were_throttled_in_the_window(model_dir, tmp_path, monkeypatch):
    row = _window_run(model_dir, tmp_path, monkeypatch, throttle_every_s=0.25)
    assert "clocks throttled during the timed window (software power cap, software thermal slowdown); " \
           "GPU clock 1095-1410 MHz" in row["warnings"]  # fmt: skip


def test_no_warning_when_the_clocks_held(model_dir, tmp_path, monkeypatch):
    row = _window_run(model_dir, tmp_path, monkeypatch, throttle_every_s=None)
    assert "throttled" not in row["warnings"] and "clock moved" not in row["warnings"]


def test_a_jetson_gpu_clock_that_moved_is_a_warning(model_dir, tmp_path):
    """tegrastats lines of a real Xavier NX at 306 MHz, then the same board at 1100 MHz."""
    line = _lines("xavier-nx-jpUNK.txt")[0]
    fast = line.replace("GR3D_FREQ 62%@306", "GR3D_FREQ 99%@1100")
    script = _fake_tegrastats(tmp_path, [line, fast])
    out = tmp_path / "out"
    assert _run(model_dir, out, "--power", f"tegrastats:path={script},interval_ms=20", "--idle-seconds", "0.1",
                "--min-seconds", "0.5") == 0  # fmt: skip
    (raw,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert set(raw["power"]["telemetry"]["values"]["gpu_clock_mhz"]) == {306.0, 1100.0}
    (row,) = metrics.frame(collect.collect([out]), load_catalog()).to_dict("records")
    assert "GPU clock moved during the timed window (306-1100 MHz)" in row["warnings"]
    assert records.load(raw).power.telemetry.units["gpu_temperature_c"] == "C"
