"""The platform catalog: every platform of D3.3 §3.4 with its peak GOPS per precision as the report
derives them, idle power, cost, memory and power modes (platforms.yaml beside this file), plus any
user file in the same format (`--catalog FILE`, later files win). A record's target is looked up
by id or alias; the peak of its precision (or DPU configuration) gives the performance ratio."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    kind: str
    peak_gops: dict[str, Any] = field(default_factory=dict)
    peak_by_config: dict[str, float] = field(default_factory=dict)
    idle_power_w: float | None = None
    cost_usd: float | None = None
    memory: str | None = None
    power_modes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    section: str | None = None
    peak_derivation: str | None = None
    notes: str | None = None

    def peak(self, precision: str, config: str | None = None) -> float | None:
        if config and config in self.peak_by_config:
            return float(self.peak_by_config[config])
        value = self.peak_gops.get(precision)
        return float(value) if isinstance(value, int | float) else None


_FIELDS = {f for f in Platform.__dataclass_fields__}


def _platform(item: dict[str, Any], where: str) -> Platform:
    if not isinstance(item, dict) or "id" not in item or "name" not in item:
        raise CatalogError(f"{where}: every platform needs at least id and name")
    data = {k: v for k, v in item.items() if k in _FIELDS}
    data["power_modes"] = tuple(item.get("power_modes") or ())
    data["aliases"] = tuple(item.get("aliases") or ())
    data["peak_gops"] = dict(item.get("peak_gops") or {})
    data["peak_by_config"] = dict(item.get("peak_by_config") or {})
    data.setdefault("kind", "unknown")
    return Platform(**data)


class Catalog:
    def __init__(self, platforms: list[Platform]) -> None:
        self.platforms = {p.id: p for p in platforms}
        self._names: dict[str, str] = {}
        for p in platforms:
            for name in (p.id, *p.aliases):
                self._names[name.lower()] = p.id

    def find(self, target: str | None) -> Platform | None:
        if not target:
            return None
        key = self._names.get(target.lower())
        return self.platforms.get(key) if key else None


def _read(text: str, where: str) -> list[Platform]:
    try:
        items = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{where}: not valid YAML ({exc})") from None
    if isinstance(items, dict):
        items = items.get("platforms")
    if not isinstance(items, list):
        raise CatalogError(f"{where}: expected a list of platforms (or a 'platforms:' list)")
    return [_platform(item, f"{where}, item {i + 1}") for i, item in enumerate(items)]


def load(extra: list[Path] | tuple[Path, ...] = ()) -> Catalog:
    text = resources.files("vedliot_aggregator.catalog").joinpath("platforms.yaml").read_text(encoding="utf-8")
    platforms = {p.id: p for p in _read(text, "built-in platforms.yaml")}
    for path in extra:
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read ({exc.strerror or exc})") from None
        platforms.update({p.id: p for p in _read(content, str(path))})
    return Catalog(list(platforms.values()))
