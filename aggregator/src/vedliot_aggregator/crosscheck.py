"""The runner against the vendor's own tool: one configuration measured by a runner backend and
by the vendor's benchmark tool run as a backend (tensorrt and trtexec, as `vedliot-runner suite
--cross-check trtexec` records them), side by side with their difference.

Rows pair on target, model, precision, batch, mode and whether host<->device copies were timed
(comparing a run with copies to one without would measure the copies, not the harness); where a
configuration was run several times the median of its runs is taken. The difference is the
runner's figure over the tool's, minus one: +2% means the runner measured 2% more inferences per
second than the tool.
"""

from __future__ import annotations

import pandas as pd

#: self-timed backend -> the runner backend it checks
PAIRS = {"trtexec": "tensorrt"}
KEY = ["target", "model", "precision", "batch_size", "mode", "copies"]
COLUMNS = [*KEY, "runner", "tool", "runner_ips", "tool_ips", "ips_difference", "runner_ms", "tool_ms", "ms_difference"]


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The cross-check rows of a metrics frame (with its `copies` column); empty when none pair."""
    if frame.empty or "copies" not in frame:
        return pd.DataFrame(columns=COLUMNS)
    ok = frame[(frame["status"] == "ok") & (frame["provenance"] == "measured")]
    rows = []
    for tool, runner in PAIRS.items():
        ours = _medians(ok[ok["backend"] == runner])
        theirs = _medians(ok[ok["backend"] == tool])
        both = ours.merge(theirs, on=KEY, suffixes=("_runner", "_tool"))
        for _, row in both.iterrows():
            rows.append(
                {
                    **{k: row[k] for k in KEY},
                    "runner": runner,
                    "tool": tool,
                    "runner_ips": row["ips_runner"],
                    "tool_ips": row["ips_tool"],
                    "ips_difference": _ratio(row["ips_runner"], row["ips_tool"]),
                    "runner_ms": row["inference_time_ms_runner"],
                    "tool_ms": row["inference_time_ms_tool"],
                    "ms_difference": _ratio(row["inference_time_ms_runner"], row["inference_time_ms_tool"]),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _medians(rows: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=[*KEY, "ips", "inference_time_ms"])
    grouped = rows.groupby(KEY, dropna=False)[["ips", "inference_time_ms"]].median()
    return grouped.reset_index()


def _ratio(ours, theirs) -> float | None:
    if ours is None or theirs is None or pd.isna(ours) or pd.isna(theirs) or not theirs:
        return None
    return float(ours) / float(theirs) - 1.0


def display(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as printed in tables/cross-check.md: figures rounded, differences in percent."""
    percent = lambda v: "" if v is None or pd.isna(v) else f"{v:+.1%}"  # noqa: E731
    return pd.DataFrame({
        "model": rows["model"], "precision": rows["precision"], "batch": rows["batch_size"], "mode": rows["mode"],
        "copies timed": rows["copies"], "runner": rows["runner"], "runner IPS": rows["runner_ips"].map("{:.1f}".format),
        "tool": rows["tool"], "tool IPS": rows["tool_ips"].map("{:.1f}".format),
        "IPS difference": rows["ips_difference"].map(percent), "runner ms": rows["runner_ms"].map("{:.3f}".format),
        "tool ms": rows["tool_ms"].map("{:.3f}".format), "ms difference": rows["ms_difference"].map(percent),
    }).set_axis(rows["target"].rename("target"))  # fmt: skip
