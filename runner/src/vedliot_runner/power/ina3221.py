"""Jetson boards' INA3221 power monitors read directly from sysfs: the source for a container that
has no tegrastats (tegrastats reads the same chips).

- JetPack 5 and later (driver `ina3221`, hwmon): /sys/bus/i2c/drivers/ina3221/<bus>-00<addr>/hwmon/
  hwmon<k>/ with in<n>_label (the rail), in<n>_input (bus voltage, mV) and curr<n>_input (mA) for
  n = 1..3; power = mV x mA. in4-6 are shunt voltages and in7 their sum: not rails. A channel the
  device tree disables has no label; one labelled "NC" is unconnected (AGX Orin, JetPack 5).
- JetPack 4 (driver `ina3221x`, IIO): /sys/bus/i2c/drivers/ina3221x/<bus>-00<addr>/iio:device<k>/
  with rail_name_<n> and in_power<n>_input (mW, computed by the driver) for n = 0..2.
Which rails make the board's power is the same board table tegrastats uses (jetson_boards.py).
The layouts are in tests/data/jetson-sysfs/ with their sources. In a container, mount the host's
/sys (read-only) or give root= where it is mounted.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import List, Optional, Tuple

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns
from vedliot_runner.power.jetson_boards import rule_for

#: rail -> (how to read it, path(s)): ("hwmon", (voltage, current)) or ("iio", (power,))
Channel = Tuple[str, str, Tuple[str, ...]]
NOT_RAILS = ("NC", "sum of shunt voltages")


@dataclasses.dataclass(frozen=True)
class Ina3221Options(PowerOptions):
    root: str = option("/", "where the host's /sys is mounted (e.g. /host in a container given -v /sys:/host/sys:ro)")
    rails: Optional[str] = option(None, "rails to sum, joined by | (default: the board table's rule)")


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read().strip()


def _hwmon_channels(root: str) -> List[Channel]:
    found = []
    pattern = os.path.join(root, "sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*")
    for directory in sorted(glob.glob(pattern)):
        for n in (1, 2, 3):
            label = os.path.join(directory, "in{}_label".format(n))
            if not os.path.isfile(label):
                continue  # disabled in the device tree
            name = _read(label)
            if name not in NOT_RAILS:
                found.append((name, "hwmon", (os.path.join(directory, "in{}_input".format(n)),
                                              os.path.join(directory, "curr{}_input".format(n)))))  # fmt: skip
    return found


def _iio_channels(root: str) -> List[Channel]:
    found = []
    for pattern in ("iio:device*", "iio_device*"):  # JetPack 3 wrote iio_device
        for directory in sorted(glob.glob(os.path.join(root, "sys/bus/i2c/drivers/ina3221x/*", pattern))):
            for n in (0, 1, 2):
                label = os.path.join(directory, "rail_name_{}".format(n))
                if os.path.isfile(label) and _read(label) not in NOT_RAILS:
                    found.append((_read(label), "iio", (os.path.join(directory, "in_power{}_input".format(n)),)))
    return found


def _watts(channel: Channel) -> float:
    _, kind, paths = channel
    if kind == "hwmon":
        millivolts, milliamps = float(_read(paths[0])), float(_read(paths[1]))
        return millivolts * milliamps / 1e6
    return float(_read(paths[0])) / 1e3


class Ina3221Source(PowerSource):
    name = "ina3221"
    Options = Ina3221Options
    default_interval_s = 0.1

    def open(self) -> None:
        root = self.options.root
        try:
            channels = _hwmon_channels(root) or _iio_channels(root)
        except OSError as exc:
            raise UsageError("--power ina3221: cannot read {} ({})".format(exc.filename, exc.strerror)) from None
        if not channels:
            raise UsageError(
                "--power ina3221: no INA3221 power monitor under {} (drivers ina3221, ina3221x); in a "
                "container mount the host's /sys (-v /sys:/host/sys:ro, root=/host), or use --power "
                "tegrastats".format(os.path.join(root, "sys/bus/i2c/drivers"))
            )
        self.channels = channels
        self.rails = [name for name, _, _ in channels]
        wanted = self.options.rails
        rule = rule_for(self.rails, wanted.split("|") if wanted else None)
        missing = [rail for rail in rule.summed if rail not in self.rails]
        if missing:
            raise UsageError("--power ina3221:rails: {} not among {}".format(", ".join(missing), ", ".join(self.rails)))
        self.summed = rule.summed
        try:
            self._row()
        except OSError as exc:
            raise UsageError("--power ina3221: cannot read {} ({}): run as root, or mount the host's /sys".format(
                exc.filename, exc.strerror)) from None  # fmt: skip
        driver = {"hwmon": "ina3221", "iio": "ina3221x"}[self.channels[0][1]]
        self.details = {"driver": driver, "files": [list(c[2]) for c in channels], "rule": rule.details()}

    def _row(self) -> Tuple[float, ...]:
        return tuple(_watts(channel) for channel in self.channels)

    def poll(self) -> List[Reading]:
        try:
            return [(now_ns(), self._row())]
        except (OSError, ValueError) as exc:
            raise SensorError("INA3221: {}".format(exc)) from None
