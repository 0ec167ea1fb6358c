"""`compare A B`: the runs of two result sets matched by configuration (target, power mode, model,
backend, precision, batch, mode), with the change of each metric and the regressions beyond a
threshold: slower (inference time up, IPS down), less efficient (GOPS/W down), less accurate.
A configuration that ran `ok` in A and has no `ok` run in B (failed, interrupted, unsupported, or
gone) is a regression too: a broken build must not pass the gate by dropping out of it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

KEY = ["target", "power_mode", "model", "backend", "precision", "batch_size", "mode"]
#: metric -> +1 when higher is better, -1 when lower is better
METRICS = {"inference_time_ms": -1, "ips": 1, "gops_per_w": 1, "energy_per_inference_mj": -1}
ACCURACY = ["top1", "map50_95"]


@dataclass(frozen=True)
class Change:
    key: tuple
    metric: str
    before: float
    after: float

    @property
    def relative(self) -> float:
        return (self.after - self.before) / self.before if self.before else float("inf")


@dataclass(frozen=True)
class Lost:
    """A configuration `ok` in A without an `ok` run in B."""

    key: tuple
    after: str  # the status in B (its latest run), or "missing"
    message: str = ""


@dataclass
class Comparison:
    both: pd.DataFrame
    regressions: list[Change] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)
    only_a: pd.DataFrame | None = None
    only_b: pd.DataFrame | None = None

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.lost)


def _keyed(table: pd.DataFrame) -> pd.DataFrame:
    keyed = table.copy()
    keyed["power_mode"] = keyed["power_mode"].fillna("")
    return keyed


def _lost(before: pd.DataFrame, after: pd.DataFrame) -> list[Lost]:
    ok_a = {tuple(row) for row in _keyed(before[before["status"] == "ok"])[KEY].itertuples(index=False)}
    ok_b = {tuple(row) for row in _keyed(after[after["status"] == "ok"])[KEY].itertuples(index=False)}
    keyed_b = _keyed(after)
    latest = {tuple(r[k] for k in KEY): r for _, r in keyed_b.iterrows()}  # later rows win
    lost = []
    for key in sorted(ok_a - ok_b, key=str):
        row = latest.get(key)
        status = "missing" if row is None else str(row["status"])
        warnings = [] if row is None else str(row["warnings"] or "").split("; ")
        message = next((w for w in warnings if w.startswith(f"{status}:")), "")
        lost.append(Lost(key, status, message))
    return lost


def _latest(table: pd.DataFrame) -> pd.DataFrame:
    # Repeated runs of one configuration: the median of each metric.
    ok = table[table["status"] == "ok"].copy()
    ok["power_mode"] = ok["power_mode"].fillna("")
    numeric = list(METRICS) + ACCURACY
    return ok.groupby(KEY, dropna=False)[numeric].median().reset_index()


def compare(
    before: pd.DataFrame, after: pd.DataFrame, threshold: float = 0.05, accuracy_margin: float = 1.0
) -> Comparison:
    """Matched rows with before/after/change columns, the regressions, the configurations lost,
    and those only in A or only in B."""
    if not all(math.isfinite(v) and v >= 0 for v in (threshold, accuracy_margin)):
        raise ValueError("the threshold and the accuracy margin must be finite numbers >= 0")
    a, b = _latest(before), _latest(after)
    merged = a.merge(b, on=KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    only_a = merged[merged["_merge"] == "left_only"][KEY]
    only_b = merged[merged["_merge"] == "right_only"][KEY]
    both = merged[merged["_merge"] == "both"].drop(columns="_merge")
    regressions: list[Change] = []
    for _, row in both.iterrows():
        key = tuple(row[k] for k in KEY)
        for metric, better in METRICS.items():
            x, y = row[f"{metric}_a"], row[f"{metric}_b"]
            if pd.isna(x) or pd.isna(y) or not x:
                continue
            if better * (y - x) / x < -threshold:
                regressions.append(Change(key, metric, float(x), float(y)))
        for metric in ACCURACY:
            x, y = row[f"{metric}_a"], row[f"{metric}_b"]
            if not pd.isna(x) and not pd.isna(y) and y < x - accuracy_margin:
                regressions.append(Change(key, metric, float(x), float(y)))
    for metric in list(METRICS) + ACCURACY:
        both[f"{metric}_change"] = (both[f"{metric}_b"] - both[f"{metric}_a"]) / both[f"{metric}_a"]
    return Comparison(both, regressions, _lost(before, after), only_a, only_b)
