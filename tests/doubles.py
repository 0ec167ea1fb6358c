"""Doubles of vendor Python APIs this machine cannot have, following their documented calls:
nvidia-ml-py (pynvml) and HailoRT's hailo_platform power API. Each has a `fail` switch so the
contract battery can break the sensor mid-run."""

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


def hailo_platform(fail_open: bool = False) -> types.ModuleType:
    """hailo_platform's documented power API (HailoRT pyhailort.py: Device, Control.*_power_measurement,
    PowerMeasurementData, the enums) over a simulated 2.5 W module."""
    hp = types.ModuleType("hailo_platform")

    class HailoRTException(Exception):
        pass

    def enum(name, members):
        return type(name, (), {m: f"{name}.{m}" for m in members})

    hp.HailoRTException = HailoRTException
    hp.DvmTypes = enum("DvmTypes", ["AUTO", "VDD_CORE", "OVERCURRENT_PROTECTION"])
    hp.PowerMeasurementTypes = enum("PowerMeasurementTypes", ["AUTO", "POWER", "CURRENT"])
    hp.MeasurementBufferIndex = enum("MeasurementBufferIndex", [f"MEASUREMENT_BUFFER_INDEX_{i}" for i in range(4)])
    hp.SamplingPeriod = enum("SamplingPeriod", [f"PERIOD_{p}us" for p in (140, 204, 332, 588, 1100, 2116)])
    hp.AveragingFactor = enum("AveragingFactor", [f"AVERAGE_{a}" for a in (1, 4, 16, 64, 128, 256)])
    hp.log = []
    #: set to make every reading fail
    hp.failing = False

    class Data:
        def __init__(self, n):
            self.average_value, self.min_value, self.max_value = 2.5, 2.4, 2.6
            self.average_time_value_milliseconds, self.total_number_of_samples = 35.2, n

    class Control:
        def stop_power_measurement(self):
            hp.log.append("stop")

        def set_power_measurement(self, buffer_index, dvm, measurement_type):
            if fail_open:
                raise HailoRTException("libhailort failed with error: 8 (HAILO_UNSUPPORTED_OPCODE)")
            hp.log.append(("set", buffer_index, dvm, measurement_type))

        def start_power_measurement(self, averaging_factor, sampling_period):
            hp.log.append(("start", averaging_factor, sampling_period))

        def get_power_measurement(self, buffer_index, should_clear):
            assert should_clear is True
            if hp.failing:
                raise HailoRTException("libhailort failed with error: 4 (HAILO_TIMEOUT)")
            return Data(3)

    class Device:
        def __init__(self, device_id=None):
            self.control = Control()

        def release(self):
            hp.log.append("release")

    hp.Device = Device
    return hp
