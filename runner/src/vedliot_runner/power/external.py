"""An external meter (USB meter, oscilloscope, a lab power analyser under PTDaemon) that logs on
its own: nothing is sampled here. The runner still measures the idle period (it waits, so that the
meter's log holds one) and records the wall-clock bounds of the idle period and of the timed
window; the aggregator merges the meter's log by wall-clock time (`log=` names the file as the
aggregator will find it; `offset_s=` is the meter clock minus this host's clock)."""

from __future__ import annotations

from typing import List

from vedliot_runner.power.base import PowerSource, Reading


class ExternalSource(PowerSource):
    name = "external"
    options = {
        "log": "the meter's log file, as the aggregator will find it (optional: aggregator --meter-log)",
        "offset_s": "meter clock minus host clock, seconds (0)",
        "meter": "what the meter is, for the record",
    }

    def open(self) -> None:
        self.float_option("offset_s", 0.0)  # checked now, used by the aggregator
        self.rails = ["meter"]
        self.summed = ["meter"]
        self.details = {k: v for k, v in self.raw_options.items() if k in ("log", "offset_s", "meter")}

    def poll(self) -> List[Reading]:
        return []
