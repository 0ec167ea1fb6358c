"""Power sources on real-format inputs (tegrastats lines from JetPack 4/5/6 boards, a powercap tree,
a RECS answer over real HTTP, meter logs), doubles of the vendor Python APIs this machine lacks
(nvidia-ml-py, hailo_platform) that mimic their documented calls, and a real ONNX Runtime run
whose power the aggregator recovers from a powercap tree advancing at a known wattage."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import subprocess
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
from vedliot_runner.power.jetson_boards import rule_for
from vedliot_runner.power.recs import RecsSource
from vedliot_runner.power.tegrastats import parse_line

from conftest import QUICK

TEGRASTATS = Path(__file__).parent / "data" / "tegrastats"  # real lines, SOURCES.md says whose


def _line(name: str, index: int = 0) -> str:
    return (TEGRASTATS / name).read_text().splitlines()[index]


# file, line -> board family in the table, summed rails, their sum in W (by hand from the line)
BOARD_LINES = [
    ("thor-jp7.2.txt", 0, "jetson-thor", ["VIN"], 87.426),  # not + 37.5 + 19.0 + 18.3 W
    ("agx-orin-jp6.txt", 0, "jetson-agx-orin", ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"], 12.377),
    ("agx-orin-jpUNK.txt", 0, "jetson-agx-orin", ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"], 10.37),
    ("agx-orin-jpUNK.txt", 1, "jetson-agx-orin", ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"], 6.755),  # no VDDQ
    ("orin-nx-jp5.txt", 0, "jetson-orin-nx-nano-xavier-nx", ["VDD_IN"], 5.299),
    ("orin-nano-jp6.txt", 0, "jetson-orin-nx-nano-xavier-nx", ["VDD_IN"], 12.479),
    ("orin-nano-jpUNK.txt", 0, "jetson-orin-nx-nano-xavier-nx", ["VDD_IN"], 4.824),
    ("xavier-nx-jpUNK.txt", 0, "jetson-orin-nx-nano-xavier-nx", ["VDD_IN"], 4.067),
    ("agx-xavier-jpUNK.txt", 0, "jetson-agx-xavier", ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"], 3.346),
    ("nano-jpUNK.txt", 0, "jetson-nano", ["POM_5V_IN"], 1.022),
    ("tx2-jp4.txt", 0, "jetson-tx2", ["VDD_IN"], 5.297),
    ("tx2-jpUNK.txt", 0, "jetson-tx2", ["VDD_IN"], 3.056),
    ("tx1-jpUNK.txt", 0, "jetson-tx1", ["VDD_IN"], 2.532),  # instant, not the average (2698)
]


@pytest.mark.parametrize("name, index, family, summed, watts", BOARD_LINES)
def test_tegrastats_board_table_on_real_lines(name, index, family, summed, watts):
    parsed = parse_line(_line(name, index))
    assert not {"RAM", "SWAP", "IRAM", "NC", "GR3D_FREQ", "EMC_FREQ", "APE"} & set(parsed)
    rule = rule_for(list(parsed))
    assert (rule.board, rule.summed, rule.source) == (family, summed, "table")
    assert sum(parsed[r] for r in rule.summed) == pytest.approx(watts)


def test_tegrastats_three_values_negative_readings_and_fallbacks():
    thor = parse_line(_line("thor-jp7.2.txt"))  # JetPack 7.2: instant/average/maximum
    assert thor == {"VDD_GPU": 37.528, "VDD_CPU_SOC_MSS": 18.961, "VIN_SYS_5V0": 18.331, "VIN": 87.426}
    negative = parse_line(_line("thor-jp7-negative-fragment.txt", 1))
    assert negative == {"VDD_GPU": -0.392, "VDD_CPU_SOC_MSS": 3.924}  # kept as read, not dropped
    without_vin = rule_for(["VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"])
    assert without_vin.summed == ["VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"] and "no VIN" in without_vin.scope
    assert rule_for(["VDD_IN", "VDD_X"]).summed == ["VDD_IN"]  # an unknown board with an input rail
    unknown = rule_for(["A_RAIL", "NC", "B_RAIL"])
    assert (unknown.summed, unknown.source) == (["A_RAIL", "B_RAIL"], "fallback")
    chosen = rule_for(["VDD_GPU", "VIN"], ["VDD_GPU"])
    assert (chosen.summed, chosen.source) == (["VDD_GPU"], "option")


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
    lines = [_line("xavier-nx-jpUNK.txt"), _line("orin-nano-jp6.txt")]
    script = _fake_tegrastats(tmp_path, lines)
    sampler = sampler_for(f"tegrastats:path={script},interval_ms=20")
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    record = sampler.to_record(None)
    assert record.summed == ["VDD_IN"] and record.kind == "power"
    assert record.details["command"][1:] == ["--interval", "20"]
    assert record.details["rule"]["board"] == "jetson-orin-nx-nano-xavier-nx"
    assert record.details["rule"]["source"] == "table" and "200883" in record.details["rule"]["evidence"]
    values = record.samples.values["VDD_IN"]
    assert len(values) >= 5 and set(values) == {4.067, 12.479}
    with pytest.raises(UsageError, match="cannot start"):
        sampler_for(f"tegrastats:path={tmp_path / 'absent'}").start()


def test_tegrastats_without_rails_says_why(tmp_path):
    # What tegrastats prints when it cannot read the power monitors: a real line cut before its
    # rails (the real rail-less lines found have no licence; SOURCES.md).
    nano = _line("nano-jpUNK.txt")
    script = _fake_tegrastats(tmp_path, [nano[: nano.index(" POM_5V_IN")]])
    with pytest.raises(UsageError) as caught:
        sampler_for(f"tegrastats:path={script},interval_ms=20").start()
    message = str(caught.value)
    assert "printed no power rails" in message and "INA3221" in message and "--runtime nvidia" in message
    assert "is this a Jetson" not in message


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


@pytest.mark.parametrize(("energy", "instant", "mode"), [(True, True, "energy"), (False, True, "instant"),
                                                     (False, False, "power")])  # fmt: skip
def test_nvml_energy_counter_then_instant_power_then_the_averaged_reading(monkeypatch, energy, instant, mode):
    fake = doubles.pynvml(energy, instant)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    sampler = sampler_for("nvml:index=0,interval_ms=20")
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    record = sampler.to_record((0, 1))
    assert record.details["gpu"] == "NVIDIA A100-SXM4-40GB" and fake.calls == ["init", "shutdown"]
    if mode == "energy":
        assert record.kind == "energy" and record.unit == "J" and record.sensor_period_s is None
        t = [v / 1e9 for v in record.samples.t_ns]
        joules = record.samples.values["gpu0"]
        assert (joules[-1] - joules[0]) / (t[-1] - t[0]) == pytest.approx(250, rel=0.1)
    elif mode == "instant":
        # The instantaneous field: sampled like any power sensor, no averaging window to respect.
        assert record.kind == "power" and record.averaging == "instant" and record.sensor_period_s is None
        assert set(record.samples.values["gpu0"]) == {210.0}
        assert "NVML_FI_DEV_POWER_INSTANT" in record.details["reading"]
    else:
        # The power reading is a 1 s average on Ampere: shorter windows are flagged.
        assert record.kind == "power" and record.sensor_period_s == 1.0
        assert set(record.samples.values["gpu0"]) == {180.0}
        assert record.validity.window_shorter_than_sensor_period is True
        assert sampler.window_floor_s(None) == 2.0


def test_nvml_a_mode_the_gpu_lacks_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", doubles.pynvml(energy_supported=False, instant_supported=False))
    sampler = sampler_for("nvml:mode=instant")
    with pytest.raises(UsageError, match=r"--power nvml:mode=instant: this GPU or driver does not offer it"):
        sampler.start()


def test_hailo_buffered_measurement_from_a_process_of_its_own(monkeypatch, tmp_path):
    """Hailo advises measuring power from another process than the inference's: the sampler's
    meter is a child process (power/hailo_meter.py) over the hailo_platform double."""
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("VEDLIOT_FAKE_HAILO_LOG", str(log))
    monkeypatch.setenv("VEDLIOT_FAKE_HAILO_POWER_W", "2.5")
    sampler = sampler_for("hailo:interval_ms=20,averaging=16,sampling_period_us=1100")
    sampler.start()
    time.sleep(0.3)
    sampler.stop()
    record = sampler.to_record(None)
    assert set(record.samples.values["hailo"]) == {2.5} and len(record.samples.t_ns) >= 3
    assert record.details["process"] == "separate (hailo_meter)"
    assert all(t < time.monotonic_ns() for t in record.samples.t_ns)  # one clock across processes
    calls = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert (
        "set",
        "MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0",
        "DvmTypes.AUTO",
        "PowerMeasurementTypes.POWER",
    ) in calls
    assert ("start", "AveragingFactor.AVERAGE_16", "SamplingPeriod.PERIOD_1100us") in calls
    assert calls[-2:] == [("stop",), ("release",)]  # stop re-enables the overcurrent protection
    with pytest.raises(UsageError, match="averaging=3: choose from 1, 4, 16"):
        sampler_for("hailo:averaging=3")


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"VEDLIOT_FAKE_HAILO_NO_SENSOR": "1"}, r"libhailort control operation failed.*power sensor"),
        ({"VEDLIOT_FAKE_HAILO": ""}, r"HailoRT device not found in the system"),
    ],
)
def test_hailo_without_a_sensor_or_a_device_is_one_line(monkeypatch, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UsageError, match=expected):
        sampler_for("hailo").start()


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


REDFISH = Path(__file__).parent / "data" / "redfish"  # real BMC answers, SOURCES.md says whose


def _serve(answers: dict[str, tuple[int, str]], tls: ssl.SSLContext | None = None):
    _Recs.answers = answers
    server = HTTPServer(("127.0.0.1", 0), _Recs)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def recs_server(monkeypatch):
    dell = (REDFISH / "dell-PowerEdgeR640-Chassis-System.Embedded.1-Power.json").read_text()
    hpe = (REDFISH / "hpe-ProLiantDL360Gen10-Chassis-1-Power.json").read_text()
    server = _serve({
        "/redfish/v1/Chassis/System.Embedded.1/Power": (200, dell),
        "/redfish/v1/Chassis/1/Power": (200, hpe),
        "/REST/node/RCU_1_BB_1_0": (200, '<node id="RCU_1_BB_1_0" health="OK" actualPowerUsage="12.25"/>'),
    })  # fmt: skip
    monkeypatch.setenv("RECS_USER", "admin")
    monkeypatch.setenv("RECS_PASSWORD", "secret")
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_recs_redfish_json_xml_and_auth(recs_server, monkeypatch):
    dell = RecsSource({"url": recs_server, "node": "System.Embedded.1"})  # iDRAC's chassis id
    dell.open()
    assert dell.poll()[0][1] == (429.0,)
    hpe = RecsSource({"url": recs_server, "node": "1"})  # iLO's
    hpe.open()
    assert hpe.poll()[0][1] == (221.0,) and "tls" not in hpe.details
    xml = RecsSource({"url": recs_server, "path": "/REST/node/{node}", "node": "RCU_1_BB_1_0",
                      "field": "actualPowerUsage"})  # fmt: skip
    xml.open()
    assert xml.poll()[0][1] == (12.25,)
    with pytest.raises(UsageError, match="no watts at field=Nope"):
        RecsSource({"url": recs_server, "node": "1", "field": "Nope"}).open()
    monkeypatch.setenv("RECS_PASSWORD", "wrong")
    with pytest.raises(UsageError, match=r"HTTP 401 \(set RECS_USER and RECS_PASSWORD"):
        RecsSource({"url": recs_server, "node": "1"}).open()
    assert RecsSource({"url": recs_server}).default_interval_s == 1.0


def test_recs_over_https_with_a_self_signed_certificate(tmp_path, monkeypatch):
    """A BMC's factory certificate, made by the real openssl: refused by default with what to
    do, trusted with ca=, or not checked with verify=false, which the record and report say."""
    key, cert = tmp_path / "bmc.key", tmp_path / "bmc.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)  # fmt: skip
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    hpe = (REDFISH / "hpe-ProLiantDL360Gen10-Chassis-1-Power.json").read_text()
    server = _serve({"/redfish/v1/Chassis/1/Power": (200, hpe)}, tls)
    monkeypatch.setenv("RECS_USER", "admin")
    monkeypatch.setenv("RECS_PASSWORD", "secret")
    url = f"https://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(UsageError, match=r"certificate is not trusted .*recs:ca=PATH.*recs:verify=false"):
            RecsSource({"url": url, "node": "1"}).open()
        trusted = RecsSource({"url": url, "node": "1", "ca": str(cert)})
        trusted.open()
        assert trusted.poll()[0][1] == (221.0,) and trusted.details["tls"] == f"verified with ca={cert}"
        sampler = sampler_for(f"recs:url={url},node=1,verify=false,interval_ms=50")
        sampler.start()
        time.sleep(0.2)
        sampler.stop()
        section = sampler.to_record(None)
        assert section.details["tls"] == "not verified (verify=false)" and section.options["verify"] is False
        with pytest.raises(UsageError, match=r"ca=.*not a readable PEM"):
            RecsSource({"url": url, "ca": str(key.with_name("absent.pem"))})
    finally:
        server.shutdown()


# -- meter logs -------------------------------------------------------------------------------------


def test_meter_logs_csv_and_ptdaemon(tmp_path):
    csv_log = tmp_path / "meter.csv"
    csv_log.write_text("timestamp,watts\n1700000000.0,10.0\n1700000000.5,12.0\n")
    t, w = power_metrics.read_meter_log(csv_log)
    assert list(t) == [1700000000.0, 1700000000.5] and list(w) == [10.0, 12.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("1700000000,1\nnot,a,number\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2"):
        power_metrics.read_meter_log(bad)


PTDAEMON = Path(__file__).parent / "data" / "ptdaemon"  # MLPerf results' spl.txt, SOURCES.md


def _loadgen_time(path: Path, key: str) -> float:
    """LoadGen's power_begin/power_end: UTC (MM-DD-YYYY HH:MM:SS.mmm, written with gmtime)."""
    line = next(line for line in path.read_text().splitlines() if f'"key": "{key}"' in line)
    value = json.loads(line.split(":::MLLOG ", 1)[1])["value"]
    return datetime.datetime.strptime(value, "%m-%d-%Y %H:%M:%S.%f").replace(tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_ptdaemon_logs_are_utc_whatever_the_hosts_zone(tmp_path, monkeypatch, zone):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        run = PTDAEMON / "v4.1-UntetherAI-resnet50-multistream"
        head, _ = power_metrics.read_meter_log(run / "run_1_spl.head40.txt")
        tail, watts = power_metrics.read_meter_log(run / "run_1_spl.tail5.txt")  # ends with an empty line
        first = datetime.datetime(2024, 7, 23, 17, 8, 50, 389000, tzinfo=datetime.UTC).timestamp()
        assert head[0] == pytest.approx(first) and list(watts) == [189.8, 185.3, 186.7, 188.3]
        power_lines = run / "run_1_mlperf_log_detail.power_lines.txt"
        # LoadGen's timed window (UTC) lies inside the meter's log, as the MLPerf checker requires
        assert head[0] < _loadgen_time(power_lines, "power_begin") < _loadgen_time(power_lines, "power_end") < tail[-1]
        three = PTDAEMON / "v1.1-NVIDIA-A100-3d-unet-offline"
        t, w = power_metrics.read_meter_log(three / "run_1_spl.head40.txt")  # three channels: the total first
        assert (
            w[0] == 576.1 and t[0] == datetime.datetime(2021, 8, 5, 6, 6, 59, 182000, tzinfo=datetime.UTC).timestamp()
        )
        assert t[0] < _loadgen_time(three / "run_1_mlperf_log_detail.power_lines.txt", "power_begin")
    finally:
        monkeypatch.undo()
        time.tzset()


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


def test_tegrastats_run_rule_and_negative_readings_reach_the_report(model_dir, tmp_path):
    """A real run sampled by a tegrastats that prints Thor's idle reading (VDD_GPU -392 mW) and
    no VIN: the rails are kept as read, and the report says what the sum leaves out."""
    line = _line("thor-jp7-negative-fragment.txt", 1)  # VDD_GPU -392mW/-392mW VDD_CPU_SOC_MSS 3924mW/...
    script = _fake_tegrastats(tmp_path, [line])
    out = tmp_path / "out"
    assert _run(model_dir, out, "--power", f"tegrastats:path={script},interval_ms=20", "--idle-seconds", "0.2",
                "--min-seconds", "0.3") == 0  # fmt: skip
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    power = record["power"]
    assert power["summed"] == ["VDD_GPU", "VDD_CPU_SOC_MSS"] and power["details"]["rule"]["source"] == "fallback"
    assert set(power["samples"]["values"]["VDD_GPU"]) == {-0.392}
    result = CliRunner().invoke(cli, ["power", str(out), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["power_w"] == pytest.approx(3.924 - 0.392)
    assert any("every rail printed: a board not in the table" in w for w in row["warnings"])
    assert any(w.startswith("rail VDD_GPU read below 0 W") and "(lowest -0.392 W)" in w for w in row["warnings"])


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
