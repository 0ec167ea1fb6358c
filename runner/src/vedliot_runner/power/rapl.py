"""RAPL through the Linux powercap interface: /sys/class/powercap/intel-rapl:N/energy_uj, one
cumulative microjoule counter per zone (package-N; its subzones core, uncore, dram; psys). AMD
Zen CPUs expose their package counter through the same driver and names (Linux >= 5.8).

The counters wrap at max_energy_range_uj; each read is unwrapped against the previous one, so the
record holds monotonic joules. Summed by default: every package and every dram zone (core and
uncore are parts of their package; psys covers the whole platform where it exists and would
count the package twice).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path
from typing import Dict, List

from vedliot_runner.errors import UsageError
from vedliot_runner.options import option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading, SensorError, now_ns

DEFAULT_ROOT = "/sys/class/powercap"
DEFAULT_ZONES = "package-*,dram"
DOCKER_HINT = (
    "Docker masks /sys/class/powercap: run the container with --privileged, or bind-mount it with "
    "-v /sys/class/powercap:/sys/class/powercap:ro and make energy_uj readable on the host "
    "(see docs/power.md)"
)


class _Zone:
    def __init__(self, path: Path, name: str, max_uj: int) -> None:
        self.path = path
        self.name = name
        self.max_uj = max_uj
        self.last_uj: int = -1
        self.total_uj = 0

    def read(self) -> float:
        raw = int((self.path / "energy_uj").read_text().strip())
        if self.last_uj >= 0:
            delta = raw - self.last_uj
            if delta < 0:  # wrapped at max_energy_range_uj
                delta += self.max_uj + 1
            self.total_uj += delta
        self.last_uj = raw
        return self.total_uj / 1e6


@dataclasses.dataclass(frozen=True)
class RaplOptions(PowerOptions):
    root: str = option(DEFAULT_ROOT, "powercap directory")
    # Options are comma-separated, so several zone patterns are joined with "|".
    zones: str = option(DEFAULT_ZONES.replace(",", "|"), "zone names to sum, shell patterns joined by |")


class RaplSource(PowerSource):
    name = "rapl"
    Options = RaplOptions
    kind = "energy"
    averaging = "interval"
    default_interval_s = 0.1

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.root = Path(self.options.root)
        self.patterns = [p.strip() for p in self.options.zones.split("|") if p.strip()]
        self.zones: List[_Zone] = []

    def _discover(self) -> List[_Zone]:
        if not self.root.is_dir():
            raise UsageError("--power rapl: {} does not exist; {}".format(self.root, DOCKER_HINT))
        zones: Dict[str, _Zone] = {}
        # Top-level entries are zones and (as symlinks) their subzones: intel-rapl:0, intel-rapl:0:2.
        # intel-rapl-mmio duplicates the package counter on recent Intel parts: left out.
        for entry in sorted(self.root.iterdir()):
            if not entry.name.startswith("intel-rapl:") or not (entry / "energy_uj").exists():
                continue
            name = (entry / "name").read_text().strip() if (entry / "name").exists() else entry.name
            if not any(fnmatch.fnmatch(name, pattern) for pattern in self.patterns):
                continue
            label = name if name.startswith("package") else "{}:{}".format(name, entry.name.split(":", 1)[1])
            try:
                max_uj = int((entry / "max_energy_range_uj").read_text().strip())
            except (OSError, ValueError):
                max_uj = 2**32 - 1
            zones[label] = _Zone(entry, label, max_uj)
        if not zones:
            raise UsageError(
                "--power rapl: no zone named {} under {}; {}".format(",".join(self.patterns), self.root, DOCKER_HINT)
            )
        return list(zones.values())

    def open(self) -> None:
        self.zones = self._discover()
        for zone in self.zones:
            try:
                zone.read()
            except PermissionError:
                raise UsageError(
                    "--power rapl: {} is readable by root only (Linux >= 5.10, PLATYPUS mitigation); run as "
                    "root or `sudo chmod a+r {}/*/energy_uj` on the host; in containers: {}".format(
                        zone.path / "energy_uj", self.root, DOCKER_HINT
                    )
                ) from None
        self.rails = [zone.name for zone in self.zones]
        self.summed = list(self.rails)
        self.details = {"root": str(self.root), "zones": {z.name: str(z.path) for z in self.zones}}

    def poll(self) -> List[Reading]:
        t = now_ns()
        try:
            return [(t, tuple(zone.read() for zone in self.zones))]
        except (OSError, ValueError) as exc:
            raise SensorError("reading {}: {}".format(self.root, exc)) from None
