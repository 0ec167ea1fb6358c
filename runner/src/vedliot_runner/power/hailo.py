"""Hailo-8 through HailoRT's power-measurement API (hailo_platform), on the device being benchmarked.

The firmware samples the board's INA231 continuously (start_power_measurement) into a buffer; each
poll reads and clears it (get_power_measurement(should_clear=True)), so every reading is the
average power in watts since the previous one, stamped at the middle of its interval. DVM AUTO
measures the whole module on M.2/mPCIe cards (OVERCURRENT_PROTECTION, whose protection is off while
measuring and back on at stop_power_measurement) and the core rails on the EVB.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns

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
        self.device = None
        self.control = None
        self.last_ns = 0

    def open(self) -> None:
        try:
            import hailo_platform as hp
        except ImportError:
            raise UsageError("--power hailo needs HailoRT's Python package (hailo_platform) from Hailo") from None
        self.hp = hp
        try:
            self.device = hp.Device(self.options.device)
            self.control = self.device.control
            self.control.stop_power_measurement()  # clears what an earlier process left
            self.control.set_power_measurement(
                buffer_index=hp.MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0,
                dvm=hp.DvmTypes.AUTO,
                measurement_type=hp.PowerMeasurementTypes.POWER,
            )
            self.control.start_power_measurement(
                averaging_factor=getattr(hp.AveragingFactor, "AVERAGE_{}".format(self.average)),
                sampling_period=getattr(hp.SamplingPeriod, "PERIOD_{}us".format(self.period_us)),
            )
        except hp.HailoRTException as exc:
            self.close()
            raise UsageError("--power hailo: {} (does the board have a power sensor?)".format(exc)) from None
        self.last_ns = now_ns()
        self.rails = ["hailo"]
        self.summed = ["hailo"]
        # The sensor delivers a value every 2 x period x averaging (HailoRT docs).
        self.details = {
            "device": self.options.device or "first found",
            "dvm": "AUTO",
            "sensor_value_every_ms": 2 * self.period_us * self.average / 1000.0,
        }

    def poll(self) -> List[Reading]:
        hp = self.hp
        try:
            data = self.control.get_power_measurement(
                buffer_index=hp.MeasurementBufferIndex.MEASUREMENT_BUFFER_INDEX_0, should_clear=True
            )
        except hp.HailoRTException as exc:
            raise SensorError("HailoRT: {}".format(exc)) from None
        t = now_ns()
        middle, self.last_ns = (self.last_ns + t) // 2, t
        if not data.total_number_of_samples:
            return []  # no new sensor value since the last poll
        return [(middle, (float(data.average_value),))]

    def close(self) -> None:
        if self.control is not None:
            try:
                self.control.stop_power_measurement()
            except Exception:  # noqa: BLE001 - closing must not mask the run's own outcome
                pass
        if self.device is not None:
            try:
                self.device.release()
            except Exception:  # noqa: BLE001
                pass
        self.control = self.device = None
