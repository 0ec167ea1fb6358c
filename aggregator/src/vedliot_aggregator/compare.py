"""`compare A B`: the runs of two result sets matched by configuration (target, power mode, model,
backend, precision, batch, mode), with the change of each metric and the regressions beyond a
threshold: slower (inference time up, IPS down), less efficient (GOPS/W down), less accurate."""

from __future__ import annotations

from dataclasses import dataclass

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


def _latest(table: pd.DataFrame) -> pd.DataFrame:
    # Repeated runs of one configuration: the median of each metric.
    ok = table[table["status"] == "ok"].copy()
    ok["power_mode"] = ok["power_mode"].fillna("")
    numeric = list(METRICS) + ACCURACY
    return ok.groupby(KEY, dropna=False)[numeric].median().reset_index()


def compare(before: pd.DataFrame, after: pd.DataFrame, threshold: float = 0.05, accuracy_margin: float = 1.0):
    """(matched rows with before/after/delta columns, regressions, configurations only in A, only in B)."""
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
    return both, regressions, only_a, only_b
