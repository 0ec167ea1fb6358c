"""Hailo-8 through HailoRT's power-measurement API (hailo_platform), on the device being benchmarked.

The measurement runs in a process of its own (power/hailo_meter.py), as Hailo's power tutorial
advises: the inference's process keeps the device's streams, the meter its control channel. The
firmware samples the board's INA231 continuously (start_power_measurement) into a buffer; each
poll reads and clears it (get_power_measurement(should_clear=True)), so every reading is the
average power in watts since the previous one, stamped at the middle of its interval. DVM AUTO
measures the whole module on M.2/mPCIe cards (OVERCURRENT_PROTECTION, whose protection is off while
measuring and back on at stop_power_measurement) and the core rails on the EVB.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import subprocess
import sys
import threading
from typing import List, Optional, Tuple

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError

_PERIODS_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)
_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)


@dataclasses.dataclass(frozen=True)
class HailoOptions(PowerOptions):
    device: Optional[str] = option(None, "device id as Device.scan() lists it (default: the first)")
    sampling_period_us: int = option(1100, "sensor conversion time in microseconds", choices=_PERIODS_US)
    averaging: int = option(16, "sensor averaging factor", choices=_AVERAGES)


class HailoSource(PowerSource):
    name = "hailo"
    Options = HailoOptions
    averaging = "interval"
    default_interval_s = 0.1

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.period_us = self.options.sampling_period_us
        self.average = self.options.averaging
        self.process: Optional[subprocess.Popen] = None
        self.lines: queue.Queue[Tuple[str, object]] = queue.Queue()

    def open(self) -> None:
        argv = [sys.executable, "-m", "vedliot_runner.power.hailo_meter", "--period-us", str(self.period_us),
                "--averaging", str(self.average), "--interval-s", str(self.interval_s())]  # fmt: skip
        if self.options.device:
            argv += ["--device", self.options.device]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True
        )
        threading.Thread(target=self._read, name="hailo-meter", daemon=True).start()
        try:
            kind, value = self.lines.get(timeout=30)
        except queue.Empty:
            kind, value = "fatal", "the meter process did not start within 30 s"
        if kind != "ready":
            self.close()
            raise UsageError("--power hailo: {} (is a Hailo device here, with a power sensor?)".format(value))
        self.rails = ["hailo"]
        self.summed = ["hailo"]
        # The sensor delivers a value every 2 x period x averaging (HailoRT docs).
        self.details = {
            "device": value.get("device") or self.options.device or "first found",
            "dvm": "AUTO",
            "sensor_value_every_ms": 2 * self.period_us * self.average / 1000.0,
            "process": "separate (hailo_meter)",
        }

    def _read(self) -> None:
        process = self.process
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "t_ns" in message:
                self.lines.put(("reading", (int(message["t_ns"]), (float(message["w"]),))))
            else:
                kind = next(iter(message))
                self.lines.put((kind, message[kind]))
        self.lines.put(("fatal", "the meter process ended (exit code {})".format(process.wait())))

    def poll(self) -> List[Reading]:
        readings: List[Reading] = []
        problems = []
        while True:
            try:
                kind, value = self.lines.get_nowait()
            except queue.Empty:
                break
            if kind == "reading":
                readings.append(value)
            else:
                problems.append(str(value))
        if problems and not readings:
            raise SensorError(problems[0])
        return readings

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()  # the meter stops the measurement and releases the device
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
