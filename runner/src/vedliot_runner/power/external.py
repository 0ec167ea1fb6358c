"""An external meter (USB meter, oscilloscope, a lab power analyser under PTDaemon) that logs on
its own: nothing is sampled here. The runner still measures the idle period (it waits, so that the
meter's log holds one) and records the wall-clock bounds of the idle period and of the timed
window; the aggregator merges the meter's log by wall-clock time (`log=` names the file as the
aggregator will find it; `offset_s=` is the meter clock minus this host's clock)."""

from __future__ import annotations

import dataclasses
from typing import List, Optional

from vedliot_runner.options import MAX_SECONDS, option
from vedliot_runner.power.base import PowerOptions, PowerSource, Reading


@dataclasses.dataclass(frozen=True)
class ExternalOptions(PowerOptions):
    log: Optional[str] = option(
        None, "the meter's log file, as the aggregator will find it (optional: aggregator --meter-log)"
    )
    offset_s: float = option(0.0, "meter clock minus host clock, seconds", minimum=-MAX_SECONDS, maximum=MAX_SECONDS)
    meter: Optional[str] = option(None, "what the meter is, for the record")


class ExternalSource(PowerSource):
    name = "external"
    Options = ExternalOptions

    def open(self) -> None:
        self.rails = ["meter"]
        self.summed = ["meter"]
        opts = self.options
        self.details = {
            k: v for k, v in (("log", opts.log), ("offset_s", opts.offset_s), ("meter", opts.meter)) if v is not None
        }

    def poll(self) -> List[Reading]:
        return []
