"""Power sources on real-format inputs (tegrastats lines from JetPack 4/5/6 boards, a powercap tree,
a RECS answer over real HTTP, meter logs), doubles of the vendor Python APIs this machine lacks
(nvidia-ml-py, hailo_platform) that mimic their documented calls, and a real ONNX Runtime run
whose power the aggregator recovers from a powercap tree advancing at a known wattage."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

import doubles
from powercap import FakePowercap
from vedliot_aggregator import power as power_metrics
from vedliot_aggregator import records
from vedliot_aggregator.cli import cli
from vedliot_runner.errors import UsageError
from vedliot_runner.power import sampler_for
from vedliot_runner.power.base import parse_spec
from vedliot_runner.power.recs import RecsSource
from vedliot_runner.power.tegrastats import default_summed, parse_line

from conftest import QUICK

# Verbatim tegrastats lines (sources: waggle-sensor/jetson-exporter, DataDog/datadog-agent,
# fxd0h/JetsonScope, rbonghi/jetson_stats test fixtures), middle parts elided where marked "...".
NANO_JP4 = (
    "RAM 1923/3964MB (lfb 2x2MB) SWAP 191/1982MB (cached 6MB) IRAM 0/252kB(lfb 252kB) CPU "
    "[5%@1224,4%@1224,3%@1224,6%@1224] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 PLL@37C CPU@40C PMIC@50C "
    "GPU@40C AO@45C thermal@40C POM_5V_IN 1750/1628 POM_5V_GPU 0/0 POM_5V_CPU 366/406"
)
TX2_JP4 = (
    "RAM 2204/7852MB ... Tdiode@34.25C VDD_SYS_GPU 152/152 VDD_SYS_SOC 687/687 VDD_4V0_WIFI 0/0 "
    "VDD_IN 3056/3056 VDD_SYS_CPU 152/152 VDD_SYS_DDR 883/883"
)
AGX_XAVIER_JP4 = "RAM 1/2MB ... Tboard@37C GPU 0/0 CPU 311/311 SOC 932/932 CV 0/0 VDDRQ 621/621 SYS5V 1482/1482"
XAVIER_NX_JP5 = (
    "07-09-2024 13:31:31 RAM 3168/6851MB (lfb 2x4MB) ... GR3D_FREQ 0%@[114] ... PMIC@50C "
    "VDD_IN 2763mW/2846mW VDD_CPU_GPU_CV 650mW/670mW VDD_SOC 650mW/711mW"
)
ORIN_NANO_JP6 = (
    "11-30-2025 13:26:01 RAM 2461/7620MB (lfb 3x2MB) ... GR3D_FREQ 0%@[305] NVDEC off NVJPG off APE 200 "
    "cpu@46.531C soc2@47.312C gpu@48.218C tj@48.843C VDD_IN 5704mW/5704mW VDD_CPU_GPU_CV 831mW/831mW "
    "VDD_SOC 1624mW/1624mW"
)
AGX_ORIN_JP5 = (
    "01-03-2023 16:07:54 RAM 2257/30536MB ... VDD_GPU_SOC 2390mW/2390mW VDD_CPU_CV 796mW/796mW "
    "VIN_SYS_5V0 3522mW/3522mW NC 0mW/0mW VDDQ_VDD2_1V8AO 301mW/301mW NC 0mW/0mW"
)


@pytest.mark.parametrize(
    "line, rails, summed, watts",
    [
        (NANO_JP4, {"POM_5V_IN": 1.75, "POM_5V_GPU": 0.0, "POM_5V_CPU": 0.366}, ["POM_5V_IN"], 1.75),
        (TX2_JP4, {"VDD_IN": 3.056, "VDD_SYS_DDR": 0.883}, ["VDD_IN"], 3.056),
        (AGX_XAVIER_JP4, {"GPU": 0.0, "CPU": 0.311, "SYS5V": 1.482}, None, 3.346),
        (XAVIER_NX_JP5, {"VDD_IN": 2.763, "VDD_SOC": 0.65}, ["VDD_IN"], 2.763),  # instant, not the average
        (ORIN_NANO_JP6, {"VDD_IN": 5.704, "VDD_CPU_GPU_CV": 0.831}, ["VDD_IN"], 5.704),
        (AGX_ORIN_JP5, {"VDD_GPU_SOC": 2.39, "VIN_SYS_5V0": 3.522, "VDDQ_VDD2_1V8AO": 0.301}, None, 7.009),
    ],
)
def test_tegrastats_lines(line, rails, summed, watts):
    parsed = parse_line(line)
    for rail, value in rails.items():
        assert parsed[rail] == pytest.approx(value)
    assert not {"RAM", "SWAP", "IRAM", "NC", "GR3D_FREQ"} & set(parsed)
    chosen = default_summed(list(parsed))
    if summed is not None:
        assert chosen == summed
    assert sum(parsed[r] for r in chosen) == pytest.approx(watts)


def _fake_tegrastats(tmp_path: Path, lines: list[str]) -> Path:
    """An executable that behaves like tegrastats --interval MS: one line per interval."""
    script = tmp_path / "tegrastats"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"lines = {lines!r}\n"
        "ms = int(sys.argv[sys.argv.index('--interval') + 1])\n"
        "i = 0\n"
        "while True:\n"
        "    print(lines[i % len(lines)], flush=True)\n"
        "    i += 1\n"
        "    time.sleep(ms / 1000)\n"
    )
    script.chmod(0o755)
    return script


def test_tegrastats_source_spawns_and_samples(tmp_path):
    script = _fake_tegrastats(tmp_path, [XAVIER_NX_JP5, ORIN_NANO_JP6.replace("VDD_IN 5704", "VDD_IN 2000")])
    sampler = sampler_for(f"tegrastats:path={script},interval_ms=20")
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    record = sampler.to_record(None)
    assert record.summed == ["VDD_IN"] and record.kind == "power"
    assert record.details["command"][1:] == ["--interval", "20"]
    values = record.samples.values["VDD_IN"]
    assert len(values) >= 5 and set(values) == {2.763, 2.0}
    with pytest.raises(UsageError, match="cannot start"):
        sampler_for(f"tegrastats:path={tmp_path / 'absent'}").start()


def test_rapl_zones_wraparound_and_defaults(tmp_path):
    fake = FakePowercap(tmp_path, package_w=0, dram_w=0, max_uj=1_000_000)
    sampler = sampler_for(f"rapl:root={tmp_path}")
    source = sampler.source
    fake.set_start("intel-rapl:0", 900_000)
    source.open()
    assert source.rails == ["package-0", "dram:0:2"]  # not core (part of the package), not psys
    fake.set_start("intel-rapl:0", 100_000)  # wrapped: +200,000 uJ through max_energy_range_uj
    (_, values), = source.poll()  # fmt: skip
    assert values[0] == pytest.approx(0.200001)
    only_dram = sampler_for(f"rapl:root={tmp_path},zones=dram").source
    only_dram.open()
    assert only_dram.rails == ["dram:0:2"]


def test_rapl_errors_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="Docker masks /sys/class/powercap"):
        sampler_for(f"rapl:root={tmp_path / 'none'}").start()
    FakePowercap(tmp_path / "pc", 1, 1)
    real = Path.read_text

    def denied(self, *args, **kwargs):
        if self.name == "energy_uj":  # what a non-root reader gets on Linux >= 5.10
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(UsageError, match=r"readable by root only.*--privileged"):
        sampler_for(f"rapl:root={tmp_path / 'pc'}").start()


def test_spec_parsing_and_unknown_sources():
    assert parse_spec("rapl:root=/x,interval_ms=50") == ("rapl", {"root": "/x", "interval_ms": "50"})
    assert sampler_for("none") is None and sampler_for(None) is None
    with pytest.raises(UsageError, match="unknown source"):
        sampler_for("multimeter")
    with pytest.raises(UsageError, match=r"rapl:colour: not an option of power source 'rapl' \(known: interval_ms"):
        sampler_for("rapl:colour=red")
    with pytest.raises(UsageError, match="expected SOURCE"):
        sampler_for("rapl:root")


# -- doubles of vendor APIs -------------------------------------------------------------------------


@pytest.mark.parametrize("supported", [True, False])
def test_nvml_energy_counter_or_power_reading(monkeypatch, supported):
    fake = doubles.pynvml(supported)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = sampler_for("nvml:index=0,interval_ms=20")
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    record = sampler.to_record((0, 1))
    assert record.details["gpu"] == "NVIDIA A100-SXM4-40GB" and fake.calls == ["init", "shutdown"]
    if supported:
        assert record.kind == "energy" and record.unit == "J" and record.sensor_period_s is None
        t = [v / 1e9 for v in record.samples.t_ns]
        joules = record.samples.values["gpu0"]
        assert (joules[-1] - joules[0]) / (t[-1] - t[0]) == pytest.approx(250, rel=0.1)
    else:
        # The power reading is a 1 s average on Ampere: shorter windows are flagged.
        assert record.kind == "power" and record.sensor_period_s == 1.0
        assert set(record.samples.values["gpu0"]) == {180.0}
        assert record.validity.window_shorter_than_sensor_period is True
        assert sampler.window_floor_s(None) == 2.0


def test_hailo_buffered_measurement(monkeypatch):
    hp = doubles.hailo_platform()
    monkeypatch.setitem(sys.modules, "hailo_platform", hp)
    sampler = sampler_for("hailo:interval_ms=20,averaging=16,sampling_period_us=1100")
    sampler.start()
    time.sleep(0.2)
    sampler.stop()
    record = sampler.to_record(None)
    assert set(record.samples.values["hailo"]) == {2.5} and len(record.samples.t_ns) >= 3
    set_call = next(e for e in hp.log if e[0] == "set")
    assert set_call[2:] == ("DvmTypes.AUTO", "PowerMeasurementTypes.POWER")
    assert ("start", "AveragingFactor.AVERAGE_16", "SamplingPeriod.PERIOD_1100us") in hp.log
    assert hp.log[-2:] == ["stop", "release"]  # stop re-enables the overcurrent protection
    monkeypatch.setitem(sys.modules, "hailo_platform", doubles.hailo_platform(fail_open=True))
    with pytest.raises(UsageError, match=r"UNSUPPORTED_OPCODE.*power sensor"):
        sampler_for("hailo").start()
    with pytest.raises(UsageError, match="averaging=3: choose from 1, 4, 16"):
        sampler_for("hailo:averaging=3")


# -- RECS over real HTTP ----------------------------------------------------------------------------


class _Recs(BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, str]] = {}
    auth = "Basic " + base64.b64encode(b"admin:secret").decode()

    def do_GET(self):
        if self.headers.get("Authorization") != self.auth:
            self.send_response(401)
            self.end_headers()
            return
        code, body = self.answers.get(self.path, (404, ""))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def recs_server(monkeypatch):
    redfish = {"PowerControl": [{"PowerConsumedWatts": 61.5, "PowerMetrics": {"AverageConsumedWatts": 60}}]}
    _Recs.answers = {
        "/redfish/v1/Chassis/Chassis1/Power": (200, json.dumps(redfish)),
        "/REST/node/RCU_1_BB_1_0": (200, '<node id="RCU_1_BB_1_0" health="OK" actualPowerUsage="12.25"/>'),
    }
    server = HTTPServer(("127.0.0.1", 0), _Recs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("RECS_USER", "admin")
    monkeypatch.setenv("RECS_PASSWORD", "secret")
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_recs_redfish_json_xml_and_auth(recs_server, monkeypatch):
    source = RecsSource({"url": recs_server})
    source.open()
    assert source.poll()[0][1] == (61.5,)
    xml = RecsSource({"url": recs_server, "path": "/REST/node/{node}", "node": "RCU_1_BB_1_0",
                      "field": "actualPowerUsage"})  # fmt: skip
    xml.open()
    assert xml.poll()[0][1] == (12.25,)
    with pytest.raises(UsageError, match="no watts at field=Nope"):
        RecsSource({"url": recs_server, "field": "Nope"}).open()
    monkeypatch.setenv("RECS_PASSWORD", "wrong")
    with pytest.raises(UsageError, match=r"HTTP 401 \(set RECS_USER and RECS_PASSWORD"):
        RecsSource({"url": recs_server}).open()
    assert RecsSource({"url": recs_server}).default_interval_s == 1.0


# -- meter logs -------------------------------------------------------------------------------------


def test_meter_logs_csv_and_ptdaemon(tmp_path):
    csv_log = tmp_path / "meter.csv"
    csv_log.write_text("timestamp,watts\n1700000000.0,10.0\n1700000000.5,12.0\n")
    t, w = power_metrics.read_meter_log(csv_log)
    assert list(t) == [1700000000.0, 1700000000.5] and list(w) == [10.0, 12.0]
    ptd = tmp_path / "spl.txt"
    ptd.write_text(
        "Time,11-07-2020 17:49:06.145,NOTICE,Analyzer identity response of 32 bytes: YOKOGAWA,WT310,C2PH13047V,F1.03\n"
        "Time,01-22-2021 15:05:14.313,Watts,22.970000,Volts,227.370000,Amps,0.204340,PF,0.494400,Mark,x_ranging\n"
        "Time,01-22-2021 15:05:15.313,Watts,23.970000,Volts,227.370000,Amps,0.204340,PF,0.494400,Mark,x_testing\n"
    )
    t, w = power_metrics.read_meter_log(ptd)
    assert list(w) == [22.97, 23.97] and t[1] - t[0] == pytest.approx(1.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("1700000000,1\nnot,a,number\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2"):
        power_metrics.read_meter_log(bad)


def _run(model_dir, out, *extra):
    from vedliot_runner.cli import main

    # One inference thread: the other core keeps the powercap helper and the sampler on time (a
    # starved helper writes its counters late, and the catch-up lands in the timed window).
    return main(["run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime", *QUICK,
                 "--threads", "1", "--output", str(out), "--quiet", *extra])  # fmt: skip


def test_external_meter_merged_by_wall_clock(model_dir, tmp_path):
    out = tmp_path / "out"
    assert _run(model_dir, out, "--power", "external:meter=usb,offset_s=100", "--idle-seconds", "0.3",
                "--min-seconds", "0.5") == 0  # fmt: skip
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    timing, idle = record["timing"], record["power"]["idle"]
    start = timing["window_start_unix_ns"] / 1e9
    # The meter's clock runs 100 s ahead: 3 W while idle, 9 W during the window, every 50 ms.
    rows, t = [], idle["start_unix_ns"] / 1e9 - 1
    while t < start + 3:
        in_window = start <= t <= start + (timing["window_end_ns"] - timing["window_start_ns"]) / 1e9
        rows.append(f"{t + 100:.3f},{9.0 if in_window else 3.0}")
        t += 0.05
    log = tmp_path / "meter.csv"
    log.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(cli, ["power", str(out), "--meter-log", str(log), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["power_w"] == pytest.approx(9.0, rel=0.05) and row["idle_power_w"] == pytest.approx(3.0, rel=0.05)


# -- the integration check --------------------------------------------------------------


def test_rapl_run_power_within_two_percent(model_dir, tmp_path):
    """A real ONNX Runtime benchmark sampled through a powercap tree whose counters advance at
    35 W (package) + 4 W (dram), wrapping twice a second: the aggregated power is 39 W +- 2%."""
    out = tmp_path / "out"
    root = tmp_path / "powercap"
    with FakePowercap(root, package_w=35.0, dram_w=4.0, max_uj=20_000_000):
        code = _run(model_dir, out, "--power", f"rapl:root={root},interval_ms=50", "--idle-seconds", "0.5",
                    "--min-seconds", "0", "--min-power-seconds", "1.5")  # fmt: skip
    assert code == 0
    (path,) = out.glob("*.json")
    raw = json.loads(path.read_text())
    record = records.load(raw)
    timing = raw["timing"]
    window_s = (timing["window_end_ns"] - timing["window_start_ns"]) / 1e9
    assert window_s >= 1.5  # --min-power-seconds extended a 0 s minimum window
    assert raw["config"]["min_power_seconds"] == 1.5 and raw["power"]["validity"]["samples_in_window"] >= 20
    result = power_metrics.compute(record)
    assert result.power_w == pytest.approx(39.0, rel=0.02)
    assert result.idle_power_w == pytest.approx(39.0, rel=0.02) and result.coverage > 0.95
    metrics = power_metrics.run_metrics(record, result)
    expected_mj = result.power_w * window_s / timing["inferences"] * 1e3
    assert metrics["energy_per_inference_mj"] == pytest.approx(expected_mj)
    assert metrics["gops_per_w"] == pytest.approx(metrics["gops"] / result.power_w)
    assert not metrics["warnings"]


def test_sensor_failing_mid_run_is_recorded_and_the_run_goes_on(model_dir, tmp_path):
    out = tmp_path / "out"
    root = tmp_path / "powercap"
    fake = FakePowercap(root, package_w=10.0, dram_w=1.0)

    def break_sensor():
        time.sleep(0.8)
        fake.fail("intel-rapl:0:2")

    with fake:
        threading.Thread(target=break_sensor, daemon=True).start()
        code = _run(model_dir, out, "--power", f"rapl:root={root},interval_ms=50", "--idle-seconds", "0.2",
                    "--min-seconds", "1.5")  # fmt: skip
    assert code == 0
    (raw,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert raw["status"] == "ok" and raw["power"]["errors"]
    assert "energy_uj" in raw["power"]["errors"][0]["message"]
    result = power_metrics.compute(records.load(raw))
    assert any("sensor errors" in w for w in result.warnings)
    assert any("cover" in w for w in result.warnings)  # the window lost its samples after the failure


def test_power_usage_errors_write_no_record(model_dir, run_subprocess, tmp_path):
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
                            "--power", f"rapl:root={tmp_path / 'nothing'}")  # fmt: skip
    assert result.code == 2 and "Docker masks" in result.err and result.records == []
    result = run_subprocess("run", "--model", str(model_dir / "tiny.onnx"), "--backend", "onnxruntime",
                            "--power", "rapl", "--idle-seconds", "-1")  # fmt: skip
    assert result.code == 2 and "--idle-seconds -1" in result.err


def test_suite_samples_power_for_every_run(digits_zoo, tmp_path):
    from vedliot_runner.cli import main

    root = tmp_path / "powercap"
    out = tmp_path / "out"
    with FakePowercap(root, package_w=20.0, dram_w=2.0):
        code = main(["suite", "--target", "x86-onnxruntime", "--quick", "--zoo", str(digits_zoo), "--models", "digits",
                     "--precisions", "fp32,int8", "--threads", "1", "--power", f"rapl:root={root},interval_ms=20",
                     "--idle-seconds", "0.2", "--min-power-seconds", "0.6", "--output", str(out),
                     "--quiet"])  # fmt: skip
    assert code == 0
    written = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert len(written) == 2
    for raw in written:
        assert raw["config"]["power"].startswith("rapl:") and raw["config"]["idle_seconds"] == 0.2
        assert power_metrics.compute(records.load(raw)).power_w == pytest.approx(22.0, rel=0.05)
