"""Power sources (`--power SOURCE[:key=value,...]`) and the sampler that reads them in step with
the timing loop. One module per source; each only imports its vendor library when opened."""

from __future__ import annotations

from typing import Dict, Optional, Type

from vedliot_runner.errors import UsageError
from vedliot_runner.power.base import PowerSource, parse_spec
from vedliot_runner.power.sampler import Sampler


def _registry() -> Dict[str, Type[PowerSource]]:
    from vedliot_runner.power.external import ExternalSource
    from vedliot_runner.power.hailo import HailoSource
    from vedliot_runner.power.hwmon import HwmonSource
    from vedliot_runner.power.ina3221 import Ina3221Source
    from vedliot_runner.power.nvml import NvmlSource
    from vedliot_runner.power.rapl import RaplSource
    from vedliot_runner.power.recs import RecsSource
    from vedliot_runner.power.tegrastats import TegrastatsSource

    sources = (RaplSource, NvmlSource, TegrastatsSource, Ina3221Source, HwmonSource, HailoSource, RecsSource,
               ExternalSource)  # fmt: skip
    return {cls.name: cls for cls in sources}


SOURCES = ("rapl", "nvml", "tegrastats", "ina3221", "hwmon", "hailo", "recs", "external", "none")


def sampler_for(spec: Optional[str]) -> Optional[Sampler]:
    """The (not yet started) sampler for a --power spec; None for no spec or `none`."""
    if not spec:
        return None
    name, options = parse_spec(spec)
    if name == "none":
        return None
    registry = _registry()
    if name not in registry:
        raise UsageError("--power {}: unknown source; choose from {}".format(spec, ", ".join(SOURCES)))
    return Sampler(registry[name](options), spec)
