"""A Jetson's INA3221 sysfs tree on disk, laid out as the kernel does (tests/data/jetson-sysfs:
paths, file names and rail labels of real boards, with their sources). Where a real capture gives a
value it is used; elsewhere the test chooses the readings (5000 mV, and 1000 mA x the channel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

LAYOUTS = json.loads((Path(__file__).parent / "data" / "jetson-sysfs" / "layouts.json").read_text())


def boards() -> list[str]:
    """The layouts whose rails are known per chip."""
    return [k for k, v in LAYOUTS.items() if not k.startswith("_") and all(d.get("channels") for d in v["devices"])]


def milliamps(channel: int) -> int:
    return 1000 * (channel + 1)


def build(root: Path, board: str) -> dict[str, float]:
    """Write the board's tree under root/sys; return each rail's power in W."""
    layout = LAYOUTS[board]
    driver = layout["driver"]
    watts: dict[str, float] = {}
    for index, device in enumerate(layout["devices"]):
        match = re.search(r"/(\d+|<bus>)-00(4\d)/", device["path"] + "/")
        bus = match.group(1) if match and match.group(1).isdigit() else "1"
        address = match.group(2) if match else str(40 + index)
        folder = root / "sys/bus/i2c/drivers" / driver / f"{bus}-00{address}"
        folder = folder / ("hwmon/hwmon3" if driver == "ina3221" else f"iio:device{index}")
        folder.mkdir(parents=True)
        captured = {name: text for name, text in device.get("files", {}).items()}
        (folder / "name").write_text(driver + "\n")
        for channel, rail in device["channels"].items():
            watts.update(_channel(folder, driver, int(channel), rail, captured))
    return watts


def _channel(folder: Path, driver: str, n: int, rail: str, captured: dict[str, str]) -> dict[str, float]:
    if driver == "ina3221":
        (folder / f"in{n}_label").write_text(rail + "\n")
        if n > 3:
            return {}  # in7: the sum of shunt voltages, not a rail
        mv = int(captured.get(f"in{n}_input", "5000\n"))
        ma = int(captured.get(f"curr{n}_input", f"{milliamps(n)}\n"))
        (folder / f"in{n}_input").write_text(f"{mv}\n")
        (folder / f"curr{n}_input").write_text(f"{ma}\n")
        return {} if rail == "NC" else {rail: mv * ma / 1e6}
    (folder / f"rail_name_{n}").write_text(rail + "\n")
    mv, ma = 5000, milliamps(n)
    (folder / f"in_voltage{n}_input").write_text(f"{mv}\n")
    (folder / f"in_current{n}_input").write_text(f"{ma}\n")
    (folder / f"in_power{n}_input").write_text(f"{mv * ma // 1000}\n")
    return {rail: mv * ma / 1e6}
