"""Any board's power monitors through Linux hwmon (INA226, INA219/INA2xx, INA260, INA3221 and chips
like them): the source for Zynq UltraScale+ and Versal boards, and for any board whose sensors the
kernel exposes, Jetsons included.

- Every /sys/class/hwmon/hwmon<k>/ whose `name` matches `chips` is read. A channel n gives watts
  from power<n>_input (uW) where the driver computes power, else from in<n>_input (mV) x
  curr<n>_input (mA) (INA3221: in1-3 are the bus voltages). Units are the kernel's hwmon sysfs ABI.
- A rail is named by its label (power<n>_label, curr<n>_label, in<n>_label; "NC" and the shunt sum are
  not rails), else by the chip's name, made unique with its I2C device (ina226@3-0040).
- `board=` picks a preset (hwmon_boards.py: which chips, which rails are summed, scale factors such as
  the VCK190's x6 on VCCINT, with evidence); `auto` recognises the board from its device tree.
  Without a preset every rail found is summed; `rails=` and `scale=` override.
- The drivers average over their conversion period (update_interval, ms): the record says so.
In a container, mount the host's /sys (read-only) and give root= where it is mounted.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import os
import re
from typing import Dict, List, Optional, Tuple

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns
from vedliot_runner.power.hwmon_boards import PRESETS, Preset, detect

NOT_RAILS = ("NC", "sum of shunt voltages")
DEFAULT_CHIPS = "ina2*|ina3221|ina260"


def _scale(text: str) -> Optional[str]:
    for item in text.split("|"):
        rail, sep, factor = item.rpartition("=")
        try:
            if sep and rail and float(factor) > 0:
                continue
        except ValueError:
            pass
        return "expected RAIL=FACTOR[|RAIL=FACTOR...] with a positive factor, got {!r}".format(item)
    return None


@dataclasses.dataclass(frozen=True)
class HwmonOptions(PowerOptions):
    root: str = option("/", "where the host's /sys is mounted (e.g. /host in a container given -v /sys:/host/sys:ro)")
    board: str = option(
        "auto", "preset of chips, summed rails and scales; auto: from the device tree, else every rail",
        choices=("auto", "none", *sorted(PRESETS)),
    )  # fmt: skip
    chips: Optional[str] = option(None, "hwmon chip names to read, shell patterns joined by | (default: {})".format(
        DEFAULT_CHIPS))  # fmt: skip
    rails: Optional[str] = option(None, "rails to sum, joined by | (default: the preset's, else every rail)")
    scale: Optional[str] = option(None, "multipliers, RAIL=FACTOR joined by | (e.g. VCCINT=6)", check=_scale)


@dataclasses.dataclass(frozen=True)
class Channel:
    rail: str
    chip: str
    #: (power file in uW) or (voltage file in mV, current file in mA)
    files: Tuple[str, ...]
    scale: float = 1.0

    def watts(self) -> float:
        if len(self.files) == 1:
            return float(_read(self.files[0])) / 1e6 * self.scale
        return float(_read(self.files[0])) * float(_read(self.files[1])) / 1e6 * self.scale


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read().strip()


def _optional(path: str) -> Optional[str]:
    try:
        return _read(path)
    except OSError:
        return None


def _chip_channels(directory: str, chip: str) -> List[Tuple[Optional[str], Tuple[str, ...]]]:
    """(label, files) per channel of one hwmon device."""
    names = set(os.listdir(directory))
    found = []
    numbers = sorted({int(m.group(2)) for m in map(re.compile(r"(power|curr)(\d+)_input$").match, names) if m})
    for n in numbers:
        if "power{}_input".format(n) in names:
            files: Tuple[str, ...] = ("power{}_input".format(n),)
        elif "in{}_input".format(n) in names and "curr{}_input".format(n) in names:
            files = ("in{}_input".format(n), "curr{}_input".format(n))
        else:
            continue
        labels = ("power{}_label", "curr{}_label", "in{}_label")
        label = next((_optional(os.path.join(directory, f.format(n))) for f in labels if f.format(n) in names), None)
        if label in NOT_RAILS:
            continue
        found.append((label, tuple(os.path.join(directory, f) for f in files)))
    return found


def discover(root: str, patterns: List[str]) -> List[Channel]:
    """Every channel of every matching chip, named uniquely."""
    raw = []
    for directory in sorted(glob.glob(os.path.join(root, "sys/class/hwmon/hwmon*")), key=_hwmon_number):
        chip = _optional(os.path.join(directory, "name"))
        if chip is None or not any(fnmatch.fnmatch(chip, p) for p in patterns):
            continue
        device = os.path.basename(os.path.realpath(os.path.join(directory, "device")))
        chip_label = _optional(os.path.join(directory, "label"))
        channels = _chip_channels(directory, chip)
        for number, (label, files) in enumerate(channels, 1):
            raw.append((label, chip_label, chip, device, number if len(channels) > 1 else None, files))
    chips = [r[2] for r in raw if r[0] is None and r[1] is None]
    channels = []
    for label, chip_label, chip, device, number, files in raw:
        name = label or chip_label or (chip if chips.count(chip) == 1 else "{}@{}".format(chip, device))
        if label is None and number is not None:
            name = "{}:{}".format(name, number)
        channels.append(Channel(name, chip, files))
    return channels


def _hwmon_number(path: str) -> int:
    digits = re.sub(r"\D", "", os.path.basename(path))
    return int(digits) if digits else 0


def _scales(text: Optional[str]) -> Dict[str, float]:
    if not text:
        return {}
    return {rail: float(factor) for rail, _, factor in (item.rpartition("=") for item in text.split("|"))}


class HwmonSource(PowerSource):
    name = "hwmon"
    Options = HwmonOptions
    default_interval_s = 0.1

    def open(self) -> None:
        root = self.options.root
        preset = self._preset()
        patterns = (self.options.chips or (preset.chips if preset else DEFAULT_CHIPS)).split("|")
        try:
            channels = discover(root, patterns)
        except OSError as exc:
            raise UsageError("--power hwmon: cannot read {} ({})".format(exc.filename, exc.strerror)) from None
        if not channels:
            raise UsageError(
                "--power hwmon: no hwmon power monitor named {} under {}; list the chips with `cat "
                "/sys/class/hwmon/hwmon*/name` and give chips=, or in a container mount the host's /sys "
                "(-v /sys:/host/sys:ro, root=/host)".format("|".join(patterns), os.path.join(root, "sys/class/hwmon"))
            )
        if preset is not None:
            aliases = dict(preset.aliases)
            channels = [dataclasses.replace(c, rail=aliases.get(c.rail, c.rail)) for c in channels]
        rails = [c.rail for c in channels]
        summed, rule = self._summed(rails, preset)
        scales = {**(preset.scales(rails) if preset else {}), **_scales(self.options.scale)}
        unknown = [rail for rail in list(summed) + list(scales) if rail not in rails]
        if unknown:
            raise UsageError("--power hwmon: rail(s) {} not found; this board has {}".format(
                ", ".join(sorted(set(unknown))), ", ".join(rails)))  # fmt: skip
        self.channels = [dataclasses.replace(c, scale=scales.get(c.rail, 1.0)) for c in channels]
        self.rails, self.summed = rails, summed
        try:
            self._row()
        except OSError as exc:
            raise UsageError("--power hwmon: cannot read {} ({}): run as root, or mount the host's /sys".format(
                exc.filename, exc.strerror)) from None  # fmt: skip
        except ValueError as exc:
            raise UsageError("--power hwmon: a sensor file does not hold a number ({})".format(exc)) from None
        self._averaging()
        self.details = {
            "chips": sorted({c.chip for c in self.channels}),
            "files": [list(c.files) for c in self.channels],
            "scale": {c.rail: c.scale for c in self.channels if c.scale != 1.0},
            "rule": rule,
        }

    def _preset(self) -> Optional[Preset]:
        board = self.options.board
        if board == "none":
            return None
        if board == "auto":
            return detect(self.options.root)
        return PRESETS[board]

    def _summed(self, rails: List[str], preset: Optional[Preset]) -> Tuple[List[str], Dict[str, str]]:
        if self.options.rails:
            return self.options.rails.split("|"), {"source": "option", "scope": "the rails given with hwmon:rails="}
        if preset is not None:
            summed = preset.summed_of(rails)
            return summed, {"source": "preset", "board": preset.name, "scope": preset.scope,
                            "evidence": preset.evidence}  # fmt: skip
        return list(rails), {"source": "fallback", "scope": "every rail found: a board without a preset"}

    def _averaging(self) -> None:
        periods = []
        for directory in {os.path.dirname(c.files[0]) for c in self.channels}:
            text = _optional(os.path.join(directory, "update_interval"))
            if text and text.isdigit() and int(text) > 0:
                periods.append(int(text) / 1000)
        if periods:
            self.averaging = "sensor:{:g}".format(max(periods))

    def _row(self) -> Tuple[float, ...]:
        return tuple(channel.watts() for channel in self.channels)

    def poll(self) -> List[Reading]:
        try:
            return [(now_ns(), self._row())]
        except (OSError, ValueError) as exc:
            raise SensorError("hwmon: {}".format(exc)) from None
