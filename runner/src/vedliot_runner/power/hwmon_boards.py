"""Which hwmon power monitors make a board's power, per board of the report: data, with evidence
(tests/data/hwmon/SOURCES.md cites each fact).

Xilinx kernels bridge the INA2xx chips through iio-hwmon, which names each after its device-tree
node (ina226_u79); mainline's ina2xx driver names them all `ina226`, told apart by I2C address. A
preset renames the chips it knows (`aliases`), sums `summed` (None: every rail found) and scales
rails whose monitor sees only part of the current (`scale`; "first:PATTERN" is the first rail
matching PATTERN in I2C bus and address order).
"""

from __future__ import annotations

import fnmatch
import os
from typing import Dict, List, NamedTuple, Optional, Tuple

from vedliot_runner.power.jetson_boards import rule_for


class Preset(NamedTuple):
    name: str
    #: substrings of the device tree's model or compatible that recognise the board
    signature: Tuple[str, ...]
    chips: str
    scope: str
    evidence: str
    aliases: Tuple[Tuple[str, str], ...] = ()
    summed: Optional[Tuple[str, ...]] = None
    scale: Tuple[Tuple[str, float], ...] = ()

    def summed_of(self, rails: List[str]) -> List[str]:
        if self.name == "jetson":
            return rule_for(rails).summed
        if self.summed is None:
            return list(rails)
        return [rail for rail in self.summed if rail in rails] or list(rails)

    def scales(self, rails: List[str]) -> Dict[str, float]:
        out = {}
        for key, factor in self.scale:
            if key.startswith("first:"):
                found = [rail for rail in rails if fnmatch.fnmatch(rail, key[len("first:") :])]
                if found:
                    out[sorted(found, key=_bus_address)[0]] = factor
            elif key in rails:
                out[key] = factor
        return out


def _bus_address(rail: str) -> Tuple[int, int]:
    """ "ina226@3-0040" -> (3, 0x40)."""
    bus, _, address = rail.rpartition("@")[2].partition("-")
    try:
        return int(bus), int(address, 16)
    except ValueError:
        return (1 << 30, 0)


_ZCU102 = (("u76", "VCCPSINTFP"), ("u77", "VCCPSINTLP"), ("u78", "VCCPSAUX"), ("u87", "VCCPSPLL"),
           ("u85", "MGTRAVCC"), ("u86", "MGTRAVTT"), ("u93", "VCCO_PSDDR_504"), ("u88", "VCCOPS"), ("u15", "VCCOPS3"),
           ("u92", "VCCPSDDRPLL"), ("u79", "VCCINT"), ("u81", "VCCBRAM"), ("u80", "VCCAUX"), ("u84", "VCC1V2"),
           ("u16", "VCC3V3"), ("u65", "VADJ_FMC"), ("u74", "MGTAVCC"), ("u75", "MGTAVTT"))  # fmt: skip

PRESETS: Dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("zcu102", ("zcu102",), "ina226*", "PS + PL + transceiver rails (no board-input monitor)",
               "18 INA226 (PS and PL PMBus); Xilinx's 'Accurate Design Power Measurement' code groups PS, PL and "
               "MGT; VADJ_FMC, VCCOPS and VCCOPS3 (I/O) left out",
               aliases=tuple(("ina226_" + u, r) for u, r in _ZCU102),
               summed=("VCCPSINTFP", "VCCPSINTLP", "VCCPSAUX", "VCCPSPLL", "VCCO_PSDDR_504", "VCCPSDDRPLL", "VCCINT",
                       "VCCBRAM", "VCCAUX", "VCC1V2", "VCC3V3", "MGTRAVCC", "MGTRAVTT", "MGTAVCC", "MGTAVTT")),
        Preset("zcu104", ("zcu104",), "ina226*", "board input (12 V)",
               "one INA226 (u183) on the 12 V input: PYNQ's '12V' rail, the whole board",
               aliases=(("ina226_u183", "12V"), ("ina226", "12V"))),
        Preset("ultra96", ("zcu100", "ultra96-v1", "ultra96 rev1"), "ina226*", "system input (VSYS)",
               "Ultra96 (v1, ZCU100): one INA226 (u35), PYNQ's 'VSYS', the total system power; the V2 has none: "
               "use an external meter", aliases=(("ina226_u35", "VSYS"), ("ina226", "VSYS"))),
        Preset("kv260", ("kv260",), "ina260*", "SOM input (VCC_SOM): the carrier card is not included",
               "one INA260 (u14) on VCC_SOM; Xilinx's platformstats calls it 'SOM total power'",
               aliases=(("ina260_u14", "VCC_SOM"), ("ina260-u14", "VCC_SOM"), ("ina260", "VCC_SOM"))),
        Preset("vck190", ("vck190",), "ina226*", "all 17 INA226 rails, VCCINT x6",
               "the VCCINT monitor sees one of six IR35215 phases: x6 (Vitis AI vaitraceTools/power_mon.py, system "
               "controller's Phase_Multiplier 6); VCCINT is the 0x40 chip on the lowest PMBus bus",
               scale=(("first:ina226@*-0040", 6.0),)),
        Preset("jetson", ("nvidia,tegra", "jetson"), "ina3221", "as tegrastats: the board table of jetson_boards.py",
               "Jetson INA3221 rails (labels) summed by the same rule as --power tegrastats"),
    )
}  # fmt: skip


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def detect(root: str) -> Optional[Preset]:
    """The preset of the board whose device tree (model, compatible) names it, or None."""
    text = ""
    for tree in ("sys/firmware/devicetree/base", "proc/device-tree"):  # the first is under a mounted /sys
        tree = os.path.join(root, tree)
        text += (_read(os.path.join(tree, "model")) + "\0" + _read(os.path.join(tree, "compatible"))).lower()
    for preset in PRESETS.values():
        if any(key in text for key in preset.signature):
            return preset
    return None
