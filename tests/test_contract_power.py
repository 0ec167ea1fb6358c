"""The power-source contract, run on every source in the registry (vedliot_runner.power).

Each source runs against a rig: the real file format or protocol where this machine can host it
(a powercap tree, a tegrastats executable, a RECS HTTP server) and a double of the vendor API
where it cannot (pynvml in tests/doubles.py, hailo_platform in tests/fakes). A source added to
the registry needs a rig in RIGS; the battery then checks what every source must do:

- typed options: every option documented, a wrong value refused in one line naming it;
- readings on the timing loop's clock (time.monotonic_ns), finite, one value per rail;
- the idle period measured on the same source, its bounds on both clocks;
- a sensor that breaks mid-run: errors recorded with their time, the sampler and the run go on;
- the section it writes satisfies the record schema.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jsonschema
import pytest

import doubles
from powercap import FakePowercap
from test_power import _line
from vedliot_aggregator.schema import result_schema
from vedliot_runner.errors import UsageError
from vedliot_runner.options import describe
from vedliot_runner.power import _registry, sampler_for
from vedliot_runner.record import to_dict

SOURCES = sorted(_registry())


class Rig:
    """A source's test environment: `spec` to sample it, `break_()` to make it fail from now on."""

    def __init__(self, spec: str, break_=None, sampled: bool = True) -> None:
        self.spec = spec
        self.break_ = break_
        self.sampled = sampled


@contextlib.contextmanager
def _rapl(tmp_path: Path, monkeypatch):
    fake = FakePowercap(tmp_path / "powercap", package_w=20.0, dram_w=2.0)
    with fake:
        yield Rig(f"rapl:root={tmp_path / 'powercap'},interval_ms=20", lambda: fake.fail("intel-rapl:0"))


@contextlib.contextmanager
def _nvml(tmp_path: Path, monkeypatch):
    module = doubles.pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", module)
    yield Rig("nvml:interval_ms=20", lambda: setattr(module, "failing", True))


@contextlib.contextmanager
def _hailo(tmp_path: Path, monkeypatch):
    # the meter is a process of its own: the double's sensor fails once this file exists
    failing = tmp_path / "sensor-fails"
    monkeypatch.setenv("VEDLIOT_FAKE_HAILO_POWER_FAIL_FILE", str(failing))
    yield Rig("hailo:interval_ms=20", failing.touch)


@contextlib.contextmanager
def _tegrastats(tmp_path: Path, monkeypatch):
    script = tmp_path / "tegrastats"
    stop_file = tmp_path / "stop"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "ms = int(sys.argv[sys.argv.index('--interval') + 1])\n"
        f"while not os.path.exists({str(stop_file)!r}):\n"
        f"    print({_line('xavier-nx-jpUNK.txt')!r}, flush=True)\n"
        "    time.sleep(ms / 1000)\n"
    )
    script.chmod(0o755)
    yield Rig(f"tegrastats:path={script},interval_ms=20", lambda: stop_file.write_text("x"))


class _Redfish(BaseHTTPRequestHandler):
    failing = False

    def do_GET(self):
        if type(self).failing:
            self.send_response(500)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps({"PowerControl": [{"PowerConsumedWatts": 48.5}]}).encode())

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _recs(tmp_path: Path, monkeypatch):
    handler = type("Redfish", (_Redfish,), {"failing": False})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Rig(f"recs:url=http://127.0.0.1:{server.server_port},interval_ms=50",
                  lambda: setattr(handler, "failing", True))  # fmt: skip
    finally:
        server.shutdown()


@contextlib.contextmanager
def _ina3221(tmp_path: Path, monkeypatch):
    import jetson_sysfs

    jetson_sysfs.build(tmp_path / "host", "orin-nx-jp5")
    folder = next((tmp_path / "host").glob("sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*"))
    yield Rig(f"ina3221:root={tmp_path / 'host'},interval_ms=20", lambda: (folder / "curr1_input").unlink())


@contextlib.contextmanager
def _hwmon(tmp_path: Path, monkeypatch):
    from hwmon_sysfs import Chip, build

    (folder,) = build(tmp_path / "host", [Chip("ina226", 2, 0x40, (4.0,))])
    yield Rig(f"hwmon:root={tmp_path / 'host'},interval_ms=20", lambda: (folder / "power1_input").unlink())


@contextlib.contextmanager
def _external(tmp_path: Path, monkeypatch):
    # The meter logs on its own; the runner samples nothing and nothing can fail here.
    yield Rig("external:meter=usb,offset_s=0", sampled=False)


RIGS = {"rapl": _rapl, "nvml": _nvml, "hailo": _hailo, "tegrastats": _tegrastats, "recs": _recs, "external": _external,
        "ina3221": _ina3221, "hwmon": _hwmon}  # fmt: skip


@pytest.fixture(params=SOURCES)
def rig(request, tmp_path, monkeypatch):
    if request.param not in RIGS:
        pytest.fail(f"power source {request.param!r} has no rig: add one to RIGS in {__file__}")
    with RIGS[request.param](tmp_path, monkeypatch) as rig:
        rig.name = request.param
        yield rig


def test_options_are_typed_and_documented(rig):
    options = describe(_registry()[rig.name].Options)
    assert "interval_ms" in options and all(info.help for info in options.values())
    with pytest.raises(UsageError, match=rf"^--power {rig.name}:interval_ms=fast: expected a number"):
        sampler_for(f"{rig.spec},interval_ms=fast")
    with pytest.raises(UsageError, match=rf"^--power {rig.name}:volume: not an option"):
        sampler_for(f"{rig.spec},volume=11")


def test_readings_on_the_timing_clock_with_an_idle_period(rig):
    sampler = sampler_for(rig.spec)
    before = time.monotonic_ns()
    sampler.start()
    sampler.measure_idle(0.3, lambda: False)
    time.sleep(0.2)
    sampler.stop()
    after = time.monotonic_ns()
    section = sampler.to_record((sampler.idle.end_ns, after))
    idle = section.idle
    assert before <= idle.start_ns < idle.end_ns <= after and idle.end_ns - idle.start_ns >= 0.3e9
    assert abs(idle.start_unix_ns / 1e9 - time.time()) < 60
    assert section.rails and set(section.summed) <= set(section.rails)
    if not rig.sampled:
        assert section.samples.t_ns == []
        return
    times = section.samples.t_ns
    assert len(times) >= 3 and times == sorted(times) and before <= times[0] and times[-1] <= after
    assert any(idle.start_ns <= t <= idle.end_ns for t in times), "no reading in the idle period"
    for rail in section.rails:
        values = section.samples.values[rail]
        assert len(values) == len(times) and all(v is not None and v >= 0 for v in values)


def test_a_sensor_failing_mid_run_is_recorded_and_sampling_goes_on(rig):
    if rig.break_ is None:
        pytest.skip(f"{rig.name}: reads nothing during the run, so nothing can fail")
    sampler = sampler_for(rig.spec)
    sampler.start()
    time.sleep(0.3)
    rig.break_()
    broke = time.monotonic_ns()
    time.sleep(0.4)
    assert sampler._thread is not None and sampler._thread.is_alive()
    sampler.stop()
    section = sampler.to_record(None)
    assert section.errors and section.validity.errors == len(section.errors)
    assert all(error.t_ns >= broke - 0.1e9 and error.message for error in section.errors)
    assert section.samples.t_ns and min(section.samples.t_ns) < broke  # readings before the break kept


def test_the_section_satisfies_the_schema(rig):
    sampler = sampler_for(rig.spec)
    sampler.start()
    sampler.measure_idle(0.1, lambda: False)
    time.sleep(0.1)
    sampler.stop()
    section = to_dict(sampler.to_record((sampler.idle.end_ns, time.monotonic_ns())))
    schema = result_schema()
    jsonschema.validate(section, {**schema["$defs"]["power"], "$defs": schema["$defs"]})
    assert section["source"] == rig.name and "interval_ms" in section["options"]
