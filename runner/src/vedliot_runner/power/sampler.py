"""The sampler thread: polls one power source at a fixed interval from before the idle period to
after the timed window, on the timing loop's monotonic clock, and turns what it saw into the
record's `power` object. A failing reading is recorded with its time and the run goes on."""

from __future__ import annotations

import threading
import time
from typing import Dict, List, Optional, Tuple

from vedliot_runner.options import as_record
from vedliot_runner.power.base import PowerSource, Reading, SensorError
from vedliot_runner.record import (
    IdlePeriod,
    PowerSamples,
    PowerSection,
    PowerValidity,
    SensorErrorInfo,
    Telemetry,
)


class Sampler:
    def __init__(self, source: PowerSource, spec: str) -> None:
        self.source = source
        self.spec = spec
        self.interval_s = source.interval_s()
        self.readings: List[Reading] = []
        self.telemetry: List[Reading] = []
        self.errors: List[SensorErrorInfo] = []
        self.idle: Optional[IdlePeriod] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self.started = False

    def window_floor_s(self, requested: Optional[float]) -> float:
        """The shortest timed window this source can measure: as asked, else five intervals and
        twice the sensor's own averaging period."""
        if requested is not None:
            return requested
        return max(5 * self.interval_s, 2 * (self.source.sensor_period_s() or 0.0))

    def start(self) -> None:
        """Open the source (UsageError if it cannot be read) and start polling."""
        self.source.open()
        self.started = True
        self._poll()
        self._thread = threading.Thread(target=self._loop, name="power-sampler", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        try:
            readings = self.source.poll()
        except SensorError as exc:
            with self._lock:
                if len(self.errors) < 100:  # a dead sensor must not bloat the record
                    self.errors.append(SensorErrorInfo(t_ns=time.monotonic_ns(), message=str(exc)))
            return
        try:
            telemetry = self.source.poll_telemetry()
        except SensorError:
            telemetry = []  # clocks and temperatures are context: a failed read costs no power sample
        with self._lock:
            self.readings.extend(readings)
            self.telemetry.extend(telemetry)

    def _loop(self) -> None:
        next_tick = time.monotonic() + self.interval_s
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            self._poll()
            next_tick += self.interval_s
            if next_tick < time.monotonic():  # a slow sensor read: skip ticks rather than burst
                next_tick = time.monotonic() + self.interval_s

    def measure_idle(self, seconds: float, stopped) -> None:
        """Wait `seconds` doing nothing (the device idle), noting the period's bounds."""
        start, start_unix = time.monotonic_ns(), time.time_ns()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stopped():
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        self.idle = IdlePeriod(start_ns=start, end_ns=time.monotonic_ns(), start_unix_ns=start_unix)

    def stop(self) -> None:
        """Stop polling after one last reading (it closes an energy counter's window)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
            self._poll()
        self.source.close()
        self.started = False

    def to_record(self, window: Optional[Tuple[int, int]]) -> PowerSection:
        source = self.source
        with self._lock:
            readings = sorted(self.readings, key=lambda reading: reading[0])
            errors = list(self.errors)
        values: Dict[str, List[Optional[float]]] = {rail: [] for rail in source.rails}
        for _, row in readings:
            for rail, value in zip(source.rails, row):
                values[rail].append(None if value is None else round(float(value), 6))
        sensor_period = source.sensor_period_s()
        validity = PowerValidity(samples=len(readings), errors=len(errors))
        if window is not None:
            start, end = window
            validity.window_s = (end - start) / 1e9
            validity.samples_in_window = sum(1 for t, _ in readings if start <= t <= end)
            validity.window_shorter_than_sensor_period = sensor_period is not None and validity.window_s < sensor_period
        return PowerSection(
            source=source.name,
            spec=self.spec,
            options=as_record(source.options),
            kind=source.kind,
            unit="J" if source.kind == "energy" else "W",
            averaging=source.averaging,
            interval_ms=round(self.interval_s * 1000, 3),
            sensor_period_s=sensor_period,
            rails=list(source.rails),
            summed=list(source.summed),
            details=dict(source.details),
            idle=self.idle,
            samples=PowerSamples(t_ns=[t for t, _ in readings], values=values),
            errors=errors,
            validity=validity,
            telemetry=self._telemetry(),
        )

    def _telemetry(self) -> Optional[Telemetry]:
        channels = self.source.telemetry
        with self._lock:
            rows = sorted(self.telemetry, key=lambda reading: reading[0])
        if not channels or not rows:
            return None
        values: Dict[str, List[Optional[float]]] = {name: [] for name in channels}
        for _, row in rows:
            for name, value in zip(channels, row):
                values[name].append(None if value is None else round(float(value), 3))
        return Telemetry(units=dict(channels), t_ns=[t for t, _ in rows], values=values)
