"""Doubles of vendor Python APIs this machine cannot have, following their documented calls:
nvidia-ml-py (pynvml), with a `fail` switch so the contract battery can break the sensor mid-run.
HailoRT's hailo_platform is a package (tests/fakes/hailo_platform): its power meter runs in a
process of its own."""

from __future__ import annotations

import time
import types


def pynvml(energy_supported: bool = True, instant_supported: bool = True) -> types.ModuleType:
    """nvidia-ml-py's documented surface: NVMLError(value), NVML_ERROR_NOT_SUPPORTED = 3, energy in
    mJ since driver load, power in mW; nvmlDeviceGetFieldValues(handle, fieldIds) returning one
    c_nvmlFieldValue_t per id (fieldId, scopeId, timestamp, latencyUsec, valueType, nvmlReturn,
    value.uiVal: nvidia-ml-py 13.615's pynvml.py), NVML_FI_DEV_POWER_INSTANT = 186 (its nvml.h id)."""
    module = types.ModuleType("pynvml")

    class NVMLError(Exception):
        def __init__(self, value):
            self.value = value

        def __str__(self):
            return {3: "Not Supported", 15: "GPU is lost"}.get(self.value, f"error {self.value}")

    start = time.monotonic()
    module.NVMLError = NVMLError
    module.NVML_ERROR_NOT_SUPPORTED = 3
    module.NVML_ERROR_GPU_IS_LOST = 15
    module.calls = []
    #: set to make every reading fail, as when the GPU falls off the bus
    module.failing = False
    module.nvmlInit = lambda: module.calls.append("init")
    module.nvmlShutdown = lambda: module.calls.append("shutdown")
    module.nvmlDeviceGetHandleByIndex = lambda index: ("handle", index)
    module.nvmlDeviceGetName = lambda handle: b"NVIDIA A100-SXM4-40GB"
    module.nvmlSystemGetDriverVersion = lambda: "550.54.15"

    def energy(handle):
        if not energy_supported:
            raise NVMLError(3)
        if module.failing:
            raise NVMLError(15)
        return int(1_000_000 + 250_000 * (time.monotonic() - start))  # 250 W

    def power(handle):
        if module.failing:
            raise NVMLError(15)
        return 180_000  # mW

    def field_values(handle, field_ids):
        if module.failing:
            raise NVMLError(15)
        values = []
        for field in field_ids:
            known = field == 186 and instant_supported
            values.append(types.SimpleNamespace(
                fieldId=field, scopeId=0, timestamp=int(time.time() * 1e6), latencyUsec=0, valueType=1,
                nvmlReturn=0 if known else 3, value=types.SimpleNamespace(uiVal=210_000 if known else 0)))  # fmt: skip
        return values

    module.NVML_FI_DEV_POWER_INSTANT = 186
    # Clocks, temperature and throttle reasons (nvidia-ml-py 13.615: the constants' values are
    # checked against the real module by tests/test_power_telemetry.py). The GPU runs at 1410 MHz
    # until `throttling` is set: then at 1095 MHz, power-capped and thermally slowed.
    module.NVML_CLOCK_GRAPHICS, module.NVML_CLOCK_SM, module.NVML_CLOCK_MEM = 0, 1, 2
    module.NVML_TEMPERATURE_GPU = 0
    module.nvmlClocksThrottleReasonGpuIdle = 0x1
    module.nvmlClocksThrottleReasonSwPowerCap = 0x4
    module.nvmlClocksThrottleReasonSwThermalSlowdown = 0x20
    module.throttling = False
    module.nvmlDeviceGetClockInfo = lambda handle, type: (1095 if module.throttling else 1410) if type == 0 else 1215
    module.nvmlDeviceGetTemperature = lambda handle, sensor: 83 if module.throttling else 61
    module.nvmlDeviceGetCurrentClocksThrottleReasons = lambda handle: 0x24 if module.throttling else 0x0
    module.nvmlDeviceGetTotalEnergyConsumption = energy
    module.nvmlDeviceGetPowerUsage = power
    module.nvmlDeviceGetFieldValues = field_values
    return module
