"""A powercap tree in a temporary directory, laid out as Linux's /sys/class/powercap (zones and,
as top-level entries, their subzones), whose energy_uj counters a thread advances at known
wattages, wrapping at max_energy_range_uj like the real ones."""

from __future__ import annotations

import threading
import time
from pathlib import Path


class FakePowercap:
    def __init__(self, root: Path, package_w: float, dram_w: float, max_uj: int = 262143328850) -> None:
        self.root = root
        self.watts = {"intel-rapl:0": package_w, "intel-rapl:0:0": package_w * 0.6, "intel-rapl:0:2": dram_w}
        names = {"intel-rapl:0": "package-0", "intel-rapl:0:0": "core", "intel-rapl:0:2": "dram"}
        self.max_uj = max_uj
        self.energy = dict.fromkeys(self.watts, 0.0)
        for zone, name in names.items():
            (root / zone).mkdir(parents=True)
            (root / zone / "name").write_text(name + "\n")
            (root / zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
            (root / zone / "energy_uj").write_text("0\n")
        # psys and the MMIO duplicate exist on real machines and must not be summed by default.
        (root / "intel-rapl:1").mkdir()
        (root / "intel-rapl:1" / "name").write_text("psys\n")
        (root / "intel-rapl:1" / "energy_uj").write_text("0\n")
        self.broken: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._advance, daemon=True)

    def fail(self, zone: str) -> None:
        """The zone's counter disappears, as when a driver is unloaded mid-run."""
        self.broken.add(zone)
        time.sleep(0.02)  # let a write in progress finish
        (self.root / zone / "energy_uj").unlink()

    def set_start(self, zone: str, uj: int) -> None:
        self.energy[zone] = float(uj)
        (self.root / zone / "energy_uj").write_text(f"{uj}\n")

    def _advance(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.005):
            now = time.monotonic()
            for zone, watts in self.watts.items():
                if zone in self.broken:
                    continue
                self.energy[zone] = (self.energy[zone] + watts * (now - last) * 1e6) % (self.max_uj + 1)
                path = self.root / zone / "energy_uj"
                tmp = path.with_name(".energy_uj")
                tmp.write_text(f"{int(self.energy[zone])}\n")
                tmp.replace(path)  # a reader never sees a half-written number
            last = now

    def __enter__(self) -> FakePowercap:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
