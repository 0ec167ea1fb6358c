"""hwmon power monitors on disk, laid out as the kernel does (tests/data/hwmon/SOURCES.md):
/sys/class/hwmon/hwmon<k>/ with `name`, a `device` link to the I2C device, and per channel the
driver's files in the ABI's units (uW, mA, mV, ms).

- "native": mainline ina2xx (in0 shunt mV, in1 bus mV, curr1 mA, power1 uW, update_interval,
  shunt_resistor; a chip-level `label` where the device tree gives one);
- "iio": Xilinx kernels' iio-hwmon bridge (name from the device-tree node, in1 shunt mV, in2 bus mV,
  curr1 mA, power1 uW = mW x 1000, no update_interval);
- "ina3221": bus voltages in1-3, currents curr1-3, in<n>_label, no power attribute.
"""

from __future__ import annotations

import os
from pathlib import Path


class Chip:
    def __init__(self, name: str, bus: int, address: int, watts=(1.0,), kind: str = "native", labels=(), label=None):
        self.name, self.bus, self.address, self.watts, self.kind = name, bus, address, tuple(watts), kind
        self.labels, self.label = tuple(labels), label


def build(root: Path, chips: list[Chip], model: str | None = None, compatible: tuple[str, ...] = ()) -> list[Path]:
    """Write the chips under root/sys; return each chip's hwmon directory."""
    folders = []
    for index, chip in enumerate(chips):
        device = root / "sys/devices/platform/axi/ff030000.i2c" / f"i2c-{chip.bus}" / f"{chip.bus}-{chip.address:04x}"
        folder = root / "sys/class/hwmon" / f"hwmon{index}"
        device.mkdir(parents=True, exist_ok=True)
        folder.mkdir(parents=True)
        os.symlink(os.path.relpath(device, folder), folder / "device")
        (folder / "name").write_text(chip.name + "\n")
        if chip.label:
            (folder / "label").write_text(chip.label + "\n")
        _channels(folder, chip)
        folders.append(folder)
    tree = root / "proc/device-tree"
    tree.mkdir(parents=True, exist_ok=True)
    if model:
        (tree / "model").write_bytes(model.encode() + b"\0")
    if compatible:
        (tree / "compatible").write_bytes(b"".join(entry.encode() + b"\0" for entry in compatible))
    return folders


def _channels(folder: Path, chip: Chip) -> None:
    if chip.kind == "ina3221":
        for n, (watts, label) in enumerate(zip(chip.watts, chip.labels, strict=True), 1):
            millivolts = 5000
            (folder / f"in{n}_label").write_text(label + "\n")
            (folder / f"in{n}_input").write_text(f"{millivolts}\n")
            (folder / f"curr{n}_input").write_text(f"{round(watts * 1e6 / millivolts)}\n")
            (folder / f"in{n + 3}_input").write_text("0\n")  # shunt voltage (uV): not a rail
        (folder / "update_interval").write_text("1024\n")
        return
    (watts,) = chip.watts
    millivolts = 12000 if watts > 5 else 850
    milliamps = round(watts * 1e6 / millivolts)
    shunt, bus = ("in1", "in2") if chip.kind == "iio" else ("in0", "in1")
    (folder / f"{shunt}_input").write_text("10\n")
    (folder / f"{bus}_input").write_text(f"{millivolts}\n")
    (folder / "curr1_input").write_text(f"{milliamps}\n")
    power = round(watts * 1000) * 1000 if chip.kind == "iio" else round(watts * 1e6)  # iio: whole mW x 1000
    (folder / "power1_input").write_text(f"{power}\n")
    if chip.kind == "native":
        (folder / "update_interval").write_text("35\n")
        (folder / "shunt_resistor").write_text("5000\n")
