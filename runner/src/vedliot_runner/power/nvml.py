"""NVIDIA GPUs through NVML (the nvidia-ml-py package, imported as pynvml).

In order of preference, the first the GPU and driver offer:
1. energy: the total-energy counter (millijoules since the driver loaded; Volta and newer), so
   energy over any window is exact;
2. instant: the instantaneous power field (nvmlDeviceGetFieldValues with
   NVML_FI_DEV_POWER_INSTANT, newer drivers), sampled like any power sensor;
3. power: nvmlDeviceGetPowerUsage (milliwatts), which on Ampere and newer is itself a 1-second
   average: a timed window shorter than that is flagged, and --min-power-seconds should be >= 1.

With the power it reads the graphics and memory clocks, the temperature and the current clock
throttle reasons (NVML's bitmask: power cap, thermal and hardware slowdowns), each where the GPU
offers it; the aggregator warns when clocks were throttled during the timed window.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns

#: mode -> (record kind, averaging, the NVML call)
MODES = {
    "energy": ("energy", "interval", "nvmlDeviceGetTotalEnergyConsumption"),
    "instant": ("power", "instant", "nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)"),
    # nvmlDeviceGetPowerUsage averages over 1 s on Ampere and newer (NVML docs).
    "power": ("power", "sensor:1.0", "nvmlDeviceGetPowerUsage"),
}


@dataclasses.dataclass(frozen=True)
class NvmlOptions(PowerOptions):
    index: int = option(0, "GPU index", minimum=0, maximum=1024)
    mode: Optional[str] = option(
        None,
        "energy (the counter), instant (the instantaneous field) or power (1 s average); default: the first offered",
        choices=("energy", "instant", "power"),
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
        self.mode = self._choose(pynvml)
        self.kind, self.averaging = MODES[self.mode][:2]
        self.details["reading"] = MODES[self.mode][2]
        self.rails = ["gpu{}".format(self.index)]
        self.summed = list(self.rails)
        self._readers = self._telemetry_readers(pynvml)
        self.telemetry = {name: unit for name, (unit, _) in self._readers.items()}

    def _telemetry_readers(self, pynvml) -> dict:
        """The telemetry channels this GPU answers, each with its unit and its call."""
        handle = self.handle
        reasons = (
            getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
            or pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
        )
        wanted = {
            "gpu_clock_mhz": ("MHz", lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_GRAPHICS)),
            "memory_clock_mhz": ("MHz", lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM)),
            "temperature_c": ("C", lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
            "throttle_reasons": ("bitmask", lambda: reasons(handle)),
        }
        working = {}
        for name, (unit, read) in wanted.items():
            try:
                read()
            except pynvml.NVMLError:
                continue
            working[name] = (unit, read)
        return working

    def poll_telemetry(self) -> List[Reading]:
        row = []
        for _, read in self._readers.values():
            try:
                row.append(float(read()))
            except self.nvml.NVMLError:
                row.append(None)
        return [(now_ns(), tuple(row))] if row else []

    def _choose(self, pynvml) -> str:
        """The mode asked for, if the GPU offers it (else one line saying so), or the best offered."""
        wanted = [self.mode] if self.mode else ["energy", "instant", "power"]
        why = ""
        for mode in wanted:
            try:
                self._read(pynvml, mode)
                return mode
            except (pynvml.NVMLError, SensorError) as exc:
                why = str(exc)
        if self.mode:
            raise UsageError("--power nvml:mode={}: this GPU or driver does not offer it ({})".format(self.mode, why))
        raise UsageError("--power nvml:index={}: NVML gives no power reading ({})".format(self.index, why))

    def _read(self, pynvml, mode: str) -> float:
        if mode == "energy":
            return pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1e3  # mJ -> J
        if mode == "power":
            return pynvml.nvmlDeviceGetPowerUsage(self.handle) / 1e3  # mW -> W
        field = getattr(pynvml, "NVML_FI_DEV_POWER_INSTANT", None)  # nvidia-ml-py 12.535 and later
        if field is None:
            raise SensorError("nvidia-ml-py has no NVML_FI_DEV_POWER_INSTANT")
        value = pynvml.nvmlDeviceGetFieldValues(self.handle, [field])[0]
        if value.nvmlReturn != 0:  # NVML_SUCCESS; the call succeeds and each field says its own
            raise SensorError("NVML_FI_DEV_POWER_INSTANT: {}".format(pynvml.NVMLError(value.nvmlReturn)))
        return value.value.uiVal / 1e3  # mW -> W

    def poll(self) -> List[Reading]:
        pynvml = self.nvml
        try:
            value = self._read(pynvml, self.mode)
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
