"""Vega-Lite specifications of the report's charts, built from the metrics table (plain dicts: the
same spec renders in the HTML report and, through vl-convert, as SVG and PNG).

Per seed model: achieved GOPS against power on log-log axes with iso-GOPS/W diagonals, colour =
precision (D3.3 Figures 54/56/58); GOPS/W bars (55/57/59); accuracy per toolchain and precision
(48-50); the latency distribution of each measured run.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

PRECISION_COLORS = {
    "domain": ["fp32", "bf16", "fp16", "mixed", "int8", "uint8", "int4"],
    "range": ["#1f77b4", "#17becf", "#2ca02c", "#bcbd22", "#d62728", "#ff7f0e", "#9467bd"],
}
#: the latency chart shows at most this many runs per model (the newest), to stay readable
MAX_LATENCY_RUNS = 40


def _values(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    out = []
    for row in frame[columns].itertuples(index=False):
        item = {}
        for name, value in zip(columns, row, strict=True):
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif hasattr(value, "item"):  # numpy scalars
                value = value.item()
            item[name] = value
        out.append(item)
    return out


CONFIG = ["target", "power_mode", "backend", "precision", "batch_size", "provenance"]


def per_config(rows: pd.DataFrame) -> pd.DataFrame:
    """One point per configuration: repeated runs become their median (a chart of 10,000 runs
    would be unreadable and slow), with how many runs it summarises."""
    if rows.empty:
        return rows
    frame = rows.assign(power_mode=rows["power_mode"].fillna(""))
    grouped = frame.groupby(CONFIG, dropna=False)
    out = grouped[["gops", "power_w", "gops_per_w"]].median().reset_index()
    first = grouped[["source", "warnings"]].first().reset_index(drop=True)
    out["runs"] = grouped.size().to_numpy()
    out["source"] = [s if n == 1 else f"median of {n} runs" for s, n in zip(first["source"], out["runs"], strict=True)]
    out["warnings"] = first["warnings"]
    return out


# Labels stay ASCII: vl-convert's text measuring falls back through fonts for other glyphs and
# takes ten times longer per chart.
def _label(frame: pd.DataFrame) -> pd.Series:
    mode = frame["power_mode"].fillna("").map(lambda m: f" {m}" if m else "")
    return frame["target"] + mode + " | " + frame["backend"] + " | b" + frame["batch_size"].astype(str)


TOOLTIP = [
    {"field": "target"},
    {"field": "backend"},
    {"field": "precision"},
    {"field": "batch_size", "title": "batch"},
    {"field": "gops", "format": ".1f"},
    {"field": "power_w", "title": "power [W]", "format": ".2f"},
    {"field": "gops_per_w", "title": "GOPS/W", "format": ".2f"},
    {"field": "source"},
    {"field": "warnings"},
]


def gops_vs_power(rows: pd.DataFrame, model: str) -> dict[str, Any] | None:
    data = per_config(rows[(rows["gops"] > 0) & (rows["power_w"] > 0)])
    if data.empty:
        return None
    columns = ["target", "backend", "precision", "batch_size", "gops", "power_w", "gops_per_w", "source",
               "provenance", "warnings"]  # fmt: skip
    low, high = float(data["power_w"].min()) / 2, float(data["power_w"].max()) * 2
    lines = []
    for k in (0.1, 1, 10, 100, 1000):
        for watts in (low, high):
            lines.append({"watts": watts, "gops": k * watts, "iso": f"{k:g} GOPS/W"})
    g_low, g_high = float(data["gops"].min()) / 2, float(data["gops"].max()) * 2
    lines = [p for p in lines if g_low / 100 <= p["gops"] <= g_high * 100]
    x = {"field": "power_w", "type": "quantitative", "scale": {"type": "log", "domain": [low, high]},
         "title": "power [W]"}  # fmt: skip
    y = {"field": "gops", "type": "quantitative", "scale": {"type": "log", "domain": [g_low, g_high]},
         "title": "achieved GOPS"}  # fmt: skip
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": f"{model}: achieved GOPS vs power (diagonals: GOPS/W)",
        "width": 560,
        "height": 380,
        "layer": [
            {
                "data": {"values": lines},
                "mark": {"type": "line", "strokeDash": [4, 4], "color": "#999", "clip": True},
                "encoding": {
                    "x": {**x, "field": "watts"},
                    "y": {**y, "field": "gops"},
                    "detail": {"field": "iso"},
                },
            },
            {
                "data": {"values": [p for p in lines if p["watts"] == high]},
                "mark": {"type": "text", "align": "right", "dx": -4, "dy": -6, "color": "#777", "clip": True},
                "encoding": {"x": {**x, "field": "watts"}, "y": {**y, "field": "gops"}, "text": {"field": "iso"}},
            },
            {
                "data": {"values": _values(data, columns)},
                "mark": {"type": "point", "filled": True, "size": 70},
                "encoding": {
                    "x": x,
                    "y": y,
                    "color": {"field": "precision", "type": "nominal", "scale": PRECISION_COLORS},
                    "shape": {"field": "provenance", "type": "nominal"},
                    "tooltip": TOOLTIP,
                },
            },
        ],
    }


def gops_per_w_bars(rows: pd.DataFrame, model: str) -> dict[str, Any] | None:
    data = per_config(rows[rows["gops_per_w"] > 0])
    if data.empty:
        return None
    data["label"] = _label(data)
    columns = ["label", "target", "backend", "precision", "batch_size", "gops", "power_w", "gops_per_w", "source",
               "warnings"]  # fmt: skip
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": f"{model}: energy efficiency",
        "width": 520,
        "data": {"values": _values(data, columns)},
        "mark": "bar",
        "encoding": {
            "y": {"field": "label", "type": "nominal", "sort": "-x", "title": None},
            "yOffset": {"field": "precision"},
            "x": {"field": "gops_per_w", "type": "quantitative", "title": "GOPS/W"},
            "color": {"field": "precision", "type": "nominal", "scale": PRECISION_COLORS},
            "tooltip": TOOLTIP,
        },
    }


def accuracy_chart(rows: pd.DataFrame, model: str) -> dict[str, Any] | None:
    metric = "top1" if rows["top1"].notna().any() else "map50_95"
    title = "Top-1 [%]" if metric == "top1" else "mAP@[.50:.95] [%]"
    data = rows[rows[metric].notna() & (rows["mode"] == "accuracy")].copy()
    if data.empty:
        return None
    data["setup"] = data["target"] + " | " + data["backend"]
    data["verdict"] = data["comparable"].map({True: "comparable", False: "NOT comparable"}).fillna("-")
    columns = ["setup", "precision", metric, "accuracy_delta", "verdict", "source", "warnings"]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": f"{model}: accuracy per toolchain and precision",
        "width": 520,
        "data": {"values": _values(data, columns)},
        "mark": {"type": "point", "filled": True, "size": 80},
        "encoding": {
            "y": {"field": "setup", "type": "nominal", "title": None},
            "x": {"field": metric, "type": "quantitative", "title": title, "scale": {"zero": False}},
            "color": {"field": "precision", "type": "nominal", "scale": PRECISION_COLORS},
            "shape": {"field": "verdict", "type": "nominal"},
            "tooltip": [{"field": c} for c in columns],
        },
    }


def latency_chart(distributions: list[dict[str, Any]], model: str) -> dict[str, Any] | None:
    """Box plots from per-run quantiles (lo/q1/median/q3/hi, ms), one per measured run."""
    if not distributions:
        return None
    shown = distributions[-MAX_LATENCY_RUNS:]
    title = f"{model}: inference time per iteration, measured runs"
    if len(shown) < len(distributions):
        title += f" (newest {len(shown)} of {len(distributions)})"
    y = {"field": "run", "type": "nominal", "title": None, "sort": None}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "width": 520,
        "data": {"values": shown},
        "encoding": {"y": y},
        "layer": [
            {"mark": {"type": "rule"}, "encoding": {"x": {"field": "lo", "type": "quantitative",
                                                          "scale": {"type": "log"}, "title": "ms (log)"},
                                                    "x2": {"field": "hi"}}},
            {"mark": {"type": "bar", "size": 10},
             "encoding": {"x": {"field": "q1", "type": "quantitative"}, "x2": {"field": "q3"},
                          "color": {"field": "precision", "type": "nominal", "scale": PRECISION_COLORS},
                          "tooltip": [{"field": k} for k in ("run", "lo", "q1", "median", "q3", "hi", "n")]}},
            {"mark": {"type": "tick", "color": "white", "size": 10},
             "encoding": {"x": {"field": "median", "type": "quantitative"}}},
        ],
    }  # fmt: skip
