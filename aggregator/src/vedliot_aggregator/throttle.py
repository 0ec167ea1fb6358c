"""Clocks during the timed window, from the telemetry the power source read with the power.

- NVML's throttle reasons: any power cap, thermal or hardware slowdown seen in the window is a
  warning naming them (idle, application-clock and display-clock settings are not slowdowns).
- Where only the clock is known (Jetson's tegrastats), a GPU clock that moved by more than 10% in
  the window is a warning: the clocks were not locked (jetson_clocks, nvidia-smi -lgc), so the
  run measured the governor as much as the model.
"""

from __future__ import annotations

from vedliot_aggregator.records import Record

#: NVML clock event / throttle reason bits that slow the clocks (nvml.h)
SLOWDOWNS = {
    0x4: "software power cap",
    0x8: "hardware slowdown",
    0x20: "software thermal slowdown",
    0x40: "hardware thermal slowdown",
    0x80: "hardware power brake",
}
#: a GPU clock whose lowest reading in the window is below this share of its highest moved
STEADY = 0.9


def _in_window(record: Record) -> dict[str, list[float]]:
    power, timing = record.power, record.timing
    telemetry = getattr(power, "telemetry", None)
    if telemetry is None or timing is None or timing.window_start_ns is None:
        return {}
    start, end = timing.window_start_ns, timing.window_end_ns
    inside = [i for i, t in enumerate(telemetry.t_ns) if start <= t <= end]
    return {
        name: [values[i] for i in inside if i < len(values) and values[i] is not None]
        for name, values in telemetry.values.items()
    }


def warnings(record: Record) -> list[str]:
    seen = _in_window(record)
    found = []
    reasons = 0
    for value in seen.get("throttle_reasons", []):
        reasons |= int(value)
    names = [name for bit, name in SLOWDOWNS.items() if reasons & bit]
    clocks = seen.get("gpu_clock_mhz", [])
    span = f"; GPU clock {min(clocks):.0f}-{max(clocks):.0f} MHz" if clocks else ""
    if names:
        found.append(f"clocks throttled during the timed window ({', '.join(names)}){span}")
    elif clocks and min(clocks) < STEADY * max(clocks):
        found.append(
            f"GPU clock moved during the timed window ({min(clocks):.0f}-{max(clocks):.0f} MHz): clocks not "
            "locked (jetson_clocks on Jetson, nvidia-smi -lgc on GPUs)"
        )
    return found
