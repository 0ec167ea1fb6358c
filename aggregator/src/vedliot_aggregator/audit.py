"""The audit of published results: every derived cell D3.3 printed (IPS, GOPS, ratio, energy,
GOPS/W, accuracy labels) recomputed from its inputs with the aggregator's own metrics, and each
one that does not follow listed and classified (energy printed in J that are mJ, a ratio that
does not follow, a batch-8 time equal to batch 1, mAP labels swapped...): the report's
contradictions are listed, never fixed silently."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    table: int
    target: str
    model: str
    precision: str
    batch_size: int
    column: str
    printed: float | None
    recomputed: float | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _half_unit(value: float) -> float:
    """Half a unit of the last digit `value` was printed with (an integer-valued float was most
    likely printed without decimals)."""
    if value == int(value):
        return 0.5
    text = repr(float(value))
    if "e" in text:
        return 0.0
    return 0.5 * 10 ** -len(text.split(".")[1])


def _close(printed: float, recomputed: float, inputs: tuple = ()) -> bool:
    """Equal within what rounding explains: the printed value's own last digit, the relative
    rounding of every printed input it was computed from, and 0.5% slack."""
    relative = sum(_half_unit(v) / abs(v) for v in inputs if v)
    tolerance = abs(recomputed) * relative + _half_unit(printed) + 0.005 * abs(printed)
    return abs(printed - recomputed) <= tolerance


def audit(table) -> list[Finding]:
    """Findings for the published rows of a metrics table (metrics.frame over reference records)."""
    import pandas as pd

    findings: list[Finding] = []
    published = _cited(table)
    for _, row in published.iterrows():
        values = _numbers(row["published_values"])
        where = (int(row["table"]), row["target"], row["model"], row["precision"], int(row["batch_size"]))
        ips, gops, power = values.get("ips"), values.get("gops"), _value(row["power_w"])
        checks = [
            ("ips", ips, _value(row["ips"]), (_value(row["inference_time_ms"]),),
             "IPS does not follow from the inference time and batch"),
            ("gops", gops, _mul(ips, row["ops_per_inference"], 1e-9), (ips,),
             "GOPS does not follow from IPS x the model's operations"),
            ("perf_ratio", values.get("perf_ratio_percent"), _div(gops, values.get("peak_gops"), 100), (gops,),
             "performance ratio does not follow from GOPS / peak"),
            ("gops_per_w", values.get("gops_per_w"), _div(gops, power), (gops, power),
             "GOPS/W does not follow from GOPS / power"),
        ]  # fmt: skip
        for column, printed, recomputed, inputs, problem in checks:
            if printed is None or recomputed is None or pd.isna(recomputed):
                continue
            if not _close(printed, recomputed, inputs):
                findings.append(Finding(*where, column, printed, round(float(recomputed), 4), problem))
        energy = values.get("energy_per_inference")
        recomputed = _div(power, ips, 1e3)  # mJ
        if energy is not None and recomputed is not None:
            unit_scale = 1e3 if values.get("energy_unit") == "J" else 1.0
            printed_mj = energy * unit_scale
            unit = values.get("energy_unit") or "?"
            if _close(printed_mj, recomputed, (power, ips)):
                pass
            elif unit == "J" and _close(energy, recomputed, (power, ips)):
                problem = "energy row labelled [J] holds mJ (the values follow from power / IPS in mJ)"
                findings.append(Finding(*where, "energy_per_inference_mj", printed_mj, round(recomputed, 4), problem))
            else:
                problem = "energy per inference does not follow from power / IPS"
                findings.append(Finding(*where, "energy_per_inference_mj", printed_mj, round(recomputed, 4), problem))
    findings += _same_time_for_batches(published)
    findings += _swapped_map(table)
    return sorted(findings, key=lambda f: (f.table, f.target, f.model, f.precision, f.batch_size, f.column))


def annotate(table, findings: list[Finding]):
    """The metrics table with each audit finding also in the warnings of the rows it concerns, so
    that a chart's tooltip and the run table say it beside the number."""
    notes: dict[tuple, list[str]] = {}
    for f in findings:
        notes.setdefault((f.table, f.target, f.model, f.precision, f.batch_size), []).append(
            f"D3.3 audit, {f.column}: {f.problem}"
        )
    if not notes:
        return table
    table = table.copy()
    for index, row in _cited(table).iterrows():
        key = (int(row["table"]), row["target"], row["model"], row["precision"], int(row["batch_size"]))
        extra = notes.get(key)
        if extra:
            table.at[index, "warnings"] = "; ".join(filter(None, [row["warnings"], *extra]))
    return table


def _cited(table):
    """Published rows that name their table (a record from elsewhere may not: nothing to audit)."""
    return table[(table["provenance"] == "published") & table["table"].notna()]


def _numbers(values: Any) -> dict[str, Any]:
    """The published cells that are numbers (and the energy unit's label)."""
    if not isinstance(values, dict):
        return {}
    numbers = {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    numbers = {k: v for k, v in numbers.items() if math.isfinite(v)}
    if isinstance(values.get("energy_unit"), str):
        numbers["energy_unit"] = values["energy_unit"]
    return numbers


def _value(x):
    return None if x is None or _nan(x) else float(x)


def _mul(a, b, scale=1.0):
    return a * b * scale if a is not None and b is not None and not _nan(b) else None


def _div(a, b, scale=1.0):
    return a / b * scale if a is not None and b and not _nan(b) and not _nan(a) else None


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _same_time_for_batches(published) -> list[Finding]:
    findings = []
    latency = published[(published["mode"] == "latency") & published["inference_time_ms"].notna()]
    # Across tables too: the Hailo-8's batch-1 and batch-8 results are two tables.
    for (target, model, precision, _power_mode, _backend), group in latency.groupby(
        ["target", "model", "precision", "power_mode", "backend"], dropna=False
    ):
        times = dict(zip(group["batch_size"], group["inference_time_ms"], strict=True))
        for batch, time_ms in times.items():
            if batch > 1 and 1 in times and time_ms == times[1]:
                row = group[group["batch_size"] == batch].iloc[0]
                findings.append(
                    Finding(
                        int(row["table"]),
                        target,
                        model,
                        precision,
                        int(batch),
                        "inference_time_ms",
                        time_ms,
                        times[1],
                        f"batch-{batch} inference time equals batch 1's",
                    )
                )
    return findings


def _swapped_map(table) -> list[Finding]:
    findings = []
    cited = _cited(table)
    rows = cited[(cited["mode"] == "accuracy") & cited["map50"].notna() & cited["map50_95"].notna()]
    for _, row in rows.iterrows():
        if row["map50_95"] > row["map50"]:
            findings.append(
                Finding(
                    int(row["table"]),
                    row["target"],
                    row["model"],
                    row["precision"],
                    int(row["batch_size"]),
                    "map50",
                    row["map50"],
                    row["map50_95"],
                    "mAP labels swapped: mAP@.50 printed below mAP@[.50:.95], which cannot be",
                )
            )
    return findings
