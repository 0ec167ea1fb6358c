"""NVIDIA GPUs through NVML (the nvidia-ml-py package, imported as pynvml).

Where the GPU has it (Volta and newer), the total-energy counter (millijoules since the driver
loaded) is read: energy over any window is exact. Otherwise the power reading (milliwatts), which
on Ampere and newer is itself a 1-second average: a timed window shorter than that is flagged,
and --min-power-seconds should be at least 1.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns


@dataclasses.dataclass(frozen=True)
class NvmlOptions(PowerOptions):
    index: int = option(0, "GPU index", minimum=0, maximum=1024)
    mode: Optional[str] = option(
        None, "energy (the counter, default where the GPU has one) or power", choices=("energy", "power")
    )


class NvmlSource(PowerSource):
    name = "nvml"
    Options = NvmlOptions
    default_interval_s = 0.1

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.index = self.options.index
        self.mode = self.options.mode
        self.nvml = None
        self.handle = None

    def open(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise UsageError("--power nvml needs nvidia-ml-py: pip install 'vedliot-runner[nvml]'") from None
        self.nvml = pynvml
        try:
            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            name = pynvml.nvmlDeviceGetName(self.handle)
            driver = pynvml.nvmlSystemGetDriverVersion()
        except pynvml.NVMLError as exc:
            raise UsageError("--power nvml:index={}: NVML: {}".format(self.index, exc)) from None
        self.details = {"index": self.index, "gpu": _text(name), "driver": _text(driver)}
        if self.mode in (None, "energy"):
            try:
                pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
                self.mode = "energy"
            except pynvml.NVMLError as exc:
                if self.mode == "energy":
                    message = "--power nvml:mode=energy: this GPU has no energy counter ({})".format(exc)
                    raise UsageError(message) from None
                self.mode = "power"
        if self.mode == "energy":
            self.kind, self.averaging = "energy", "interval"
        else:
            # nvmlDeviceGetPowerUsage averages over 1 s on Ampere and newer (NVML docs).
            self.kind, self.averaging = "power", "sensor:1.0"
        energy = self.mode == "energy"
        self.details["reading"] = "nvmlDeviceGetTotalEnergyConsumption" if energy else "nvmlDeviceGetPowerUsage"
        self.rails = ["gpu{}".format(self.index)]
        self.summed = list(self.rails)

    def poll(self) -> List[Reading]:
        pynvml = self.nvml
        try:
            if self.mode == "energy":
                value = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3  # mJ -> J
            else:
                value = pynvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3  # mW -> W
        except pynvml.NVMLError as exc:
            raise SensorError("NVML: {}".format(exc)) from None
        return [(now_ns(), (float(value),))]

    def close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except self.nvml.NVMLError:
                pass


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
