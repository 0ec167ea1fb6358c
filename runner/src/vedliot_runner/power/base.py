"""The power-source interface and the option parsing every source shares.

A source reads one device's sensor, as raw as the sensor gives it:
- kind "energy": cumulative counters in joules per rail (RAPL, NVML's total-energy counter),
  wraparounds already undone; the aggregator differentiates them over the window;
- kind "power": readings in watts per rail (tegrastats, NVML's power reading, Hailo, RECS),
  instant values or averages over the interval since the previous reading, as `averaging` says.

`poll()` is called by the sampler thread every interval and returns the readings taken since the
last call, each stamped with time.monotonic_ns(): the clock of the timing loop.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from vedliot_runner import options as options_module
from vedliot_runner.errors import UsageError
from vedliot_runner.options import option

#: (monotonic ns, one value per rail, in the order of PowerSource.rails)
Reading = Tuple[int, Tuple[float, ...]]


class SensorError(Exception):
    """A reading failed mid-run; the sampler records it and goes on."""


@dataclasses.dataclass(frozen=True)
class PowerOptions:
    """Options every source has; each source's Options dataclass extends it."""

    interval_ms: Optional[float] = option(
        None, "sampling interval in ms (default: the source's)", minimum=1, maximum=600_000
    )


class PowerSource:
    name = "base"
    #: the typed options `--power NAME:K=V,...` is parsed into, before anything runs
    Options: type = PowerOptions
    kind = "power"  # or "energy"
    #: "instant", "interval" (the average since the previous reading) or "sensor:<seconds>"
    averaging = "instant"
    #: the sampler's default interval for this source
    default_interval_s = 0.1

    def __init__(self, options: Any = None) -> None:
        if options is None or isinstance(options, Mapping):
            options = self.parse_options(options or {})
        self.options = options
        self.rails: List[str] = []
        #: rails whose sum is the device's power (a subset of rails: e.g. VDD_IN, not its parts)
        self.summed: List[str] = []
        #: what the record should say about the device and sensor (model, driver, paths)
        self.details: Dict[str, object] = {}
        #: channels read besides power (name -> unit: MHz, C, %, bitmask), none by default
        self.telemetry: Dict[str, str] = {}

    @classmethod
    def parse_options(cls, raw: Mapping[str, str]) -> Any:
        """`--power NAME:K=V` strings as this source's Options (UsageError if wrong)."""
        return options_module.parse(
            cls.Options, raw, "--power {}:".format(cls.name), "power source '{}'".format(cls.name)
        )

    def interval_s(self) -> float:
        interval_ms = self.options.interval_ms
        return interval_ms / 1000 if interval_ms is not None else self.default_interval_s

    #: the sensor's own averaging period (s), when a window shorter than it cannot be trusted
    def sensor_period_s(self) -> Optional[float]:
        if self.averaging.startswith("sensor:"):
            return float(self.averaging.split(":", 1)[1])
        return None

    def open(self) -> None:
        """Find the sensor and check it can be read; UsageError with what to do otherwise."""

    def poll(self) -> List[Reading]:
        raise NotImplementedError

    def poll_telemetry(self) -> List[Reading]:
        """Clocks, temperatures and the like read since the last call, one value per channel of
        `telemetry` (None where a channel could not be read)."""
        return []

    def close(self) -> None:
        pass


def now_ns() -> int:
    return time.monotonic_ns()


def parse_spec(text: str) -> Tuple[str, Dict[str, str]]:
    """ "rapl:root=/tmp/powercap,interval_ms=50" -> ("rapl", {"root": ..., "interval_ms": "50"})."""
    name, _, rest = text.partition(":")
    options: Dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError("--power {}: expected SOURCE[:key=value,...], got {!r}".format(text, item))
        options[key.strip()] = value.strip()
    return name.strip(), options


def rail_sum(rails: Sequence[str], summed: Sequence[str], values: Sequence[float]) -> float:
    index = {rail: i for i, rail in enumerate(rails)}
    return float(sum(values[index[rail]] for rail in summed))
