"""Jetson boards through `tegrastats --interval MS`, one line per interval.

Each power rail prints "NAME instant/average": JetPack 5 and 6 with units ("VDD_IN 5126mW/5126mW"),
JetPack 4 without ("POM_5V_IN 2335/2335", milliwatts), JetPack 7.2 with a third value, the maximum
("VIN 87426mW/43713mW/87426mW"). Readings can be negative (Thor's VDD_GPU at idle reads
"-392mW", a calibration offset): they are kept as read, and the aggregator warns. The instant
value is used: the running average since tegrastats started would smear the idle period into the
window. Which rails are summed comes from the board table (jetson_boards.py) unless rails= says;
the record names the rule.

Each line also gives the GPU's load and clock ("GR3D_FREQ 62%@306", Orin: "GR3D_FREQ 0%@[305,305]",
one clock per GPC: the highest is kept), the memory clock ("EMC_FREQ 10%@1600") and the GPU's
temperature ("GPU@43C", JetPack 6: "gpu@53.343C"; -256C is a sensor that is off): the record's
telemetry, so that the aggregator can tell when the GPU clock moved during the window.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import subprocess
import threading
from typing import Dict, List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns
from vedliot_runner.power.jetson_boards import rule_for

# An upper-case rail name, then instant/average[/maximum], each in mW or unitless (JetPack 4). The
# lookahead refuses "RAM 1583/3964MB" and "IRAM 0/252kB".
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]*) (-?\d+)(?:mW)?/-?\d+(?:mW)?(?:/-?\d+(?:mW)?)?(?![A-Za-z0-9])")
# NC: unconnected placeholder rails on AGX Orin (printed twice).
_NOT_POWER = {"RAM", "SWAP", "IRAM", "LFB", "NC"}
NO_RAILS = (
    "--power tegrastats: {} printed no power rails (first line: {!r}). It runs but cannot read the "
    "board's power monitors (INA3221/INA238 under /sys/bus/i2c): run as root, in a container with "
    "--runtime nvidia and the host's /sys; or measure with --power external"
)


_GR3D = re.compile(r"\bGR3D_FREQ (\d+)%(?:@\[?([\d,]+)\]?)?")
_EMC = re.compile(r"\bEMC_FREQ \d+%@(\d+)")
_GPU_TEMP = re.compile(r"\b(?:GPU|gpu)@(-?[\d.]+)C\b")
TELEMETRY = {"gpu_clock_mhz": "MHz", "gpu_load_pct": "%", "memory_clock_mhz": "MHz", "gpu_temperature_c": "C"}


def parse_telemetry(line: str) -> Dict[str, Optional[float]]:
    """The GPU's clock, load and temperature and the memory clock on one line (those it prints)."""
    found: Dict[str, Optional[float]] = {}
    gr3d = _GR3D.search(line)
    if gr3d:
        found["gpu_load_pct"] = float(gr3d.group(1))
        clocks = [int(c) for c in (gr3d.group(2) or "").split(",") if c]
        if clocks:
            found["gpu_clock_mhz"] = float(max(clocks))
    emc = _EMC.search(line)
    if emc:
        found["memory_clock_mhz"] = float(emc.group(1))
    temperature = _GPU_TEMP.search(line)
    if temperature:
        value = float(temperature.group(1))
        found["gpu_temperature_c"] = None if value <= -256 else value
    return found


def parse_line(line: str) -> Dict[str, float]:
    """Instant power of every rail on one tegrastats line, in watts (empty if none)."""
    return {name: int(instant) / 1000.0 for name, instant in _RAIL.findall(line) if name not in _NOT_POWER}


@dataclasses.dataclass(frozen=True)
class TegrastatsOptions(PowerOptions):
    path: str = option("tegrastats", "the tegrastats executable (from PATH)")
    rails: Optional[str] = option(None, "rails to sum, joined by | (default: the board table's rule)")


class TegrastatsSource(PowerSource):
    name = "tegrastats"
    Options = TegrastatsOptions
    default_interval_s = 0.1

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.path = self.options.path
        self.process: Optional[subprocess.Popen] = None
        self.lines: queue.Queue[Reading] = queue.Queue()
        self.telemetry_lines: queue.Queue[Reading] = queue.Queue()
        self.problem: Optional[str] = None

    def open(self) -> None:
        interval_ms = max(1, round(self.interval_s() * 1000))
        try:
            self.process = subprocess.Popen(
                [self.path, "--interval", str(interval_ms)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        except OSError as exc:
            raise UsageError(
                "--power tegrastats: cannot start {} ({}); on a Jetson it is in /usr/bin, in a container "
                "mount it and give its path with tegrastats:path=...".format(self.path, exc.strerror or exc)
            ) from None
        first = self.process.stdout.readline()
        rails = parse_line(first)
        if not rails:
            self.close()
            raise UsageError(NO_RAILS.format(self.path, first.strip()[:100]))
        self.rails = list(rails)
        wanted = self.options.rails
        rule = rule_for(self.rails, wanted.split("|") if wanted else None)
        self.summed = rule.summed
        missing = [rail for rail in self.summed if rail not in rails]
        if missing:
            self.close()
            raise UsageError("--power tegrastats:rails: {} not among {}".format(", ".join(missing), ", ".join(rails)))
        self.details = {
            "command": [self.path, "--interval", str(interval_ms)],
            "first_line": first.strip(),
            "rule": rule.details(),
        }
        self.telemetry = {name: unit for name, unit in TELEMETRY.items() if name in parse_telemetry(first)}
        self.lines.put((now_ns(), tuple(rails[r] for r in self.rails)))
        self._put_telemetry(now_ns(), first)
        threading.Thread(target=self._read, name="tegrastats-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            t = now_ns()
            values = parse_line(line)
            if values:
                self.lines.put((t, tuple(values.get(rail) for rail in self.rails)))
                self._put_telemetry(t, line)
        self.problem = "tegrastats exited (code {})".format(self.process.poll())

    def _put_telemetry(self, t: int, line: str) -> None:
        if self.telemetry:
            found = parse_telemetry(line)
            self.telemetry_lines.put((t, tuple(found.get(name) for name in self.telemetry)))

    def poll(self) -> List[Reading]:
        readings = _drain(self.lines)
        if not readings and self.problem:
            raise SensorError(self.problem)
        return readings

    def poll_telemetry(self) -> List[Reading]:
        return _drain(self.telemetry_lines)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.problem = self.problem or "closed"


def _drain(lines: queue.Queue[Reading]) -> List[Reading]:
    readings = []
    while True:
        try:
            readings.append(lines.get_nowait())
        except queue.Empty:
            return readings
