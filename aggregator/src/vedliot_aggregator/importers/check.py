"""Ours against theirs: an imported record's figures as the aggregator computes them, compared
with the tool's own summary kept in the record. A difference beyond 1% (or beyond the rounding
of the printed figure, when that is coarser) is flagged: a warm-up counted as timed, another
definition of throughput, a file that does not belong to the log beside it."""

from __future__ import annotations

from typing import Any

from vedliot_aggregator.importers.common import number

TOLERANCE = 0.01
NAMES = {"mean_ms": "mean", "median_ms": "median", "min_ms": "min", "max_ms": "max", "ips": "throughput"}


def _resolution(text: str) -> float:
    """Half a unit of the last digit printed ('0.06' -> 0.005)."""
    mantissa = text.strip().lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.lower().split("e")[1]) if "e" in text.lower() else 0
    return 0.5 * 10.0 ** (exponent - decimals)


def theirs(tool_summary: dict[str, str], batch: int) -> dict[str, tuple[float, float]]:
    """The tool's mean, median, min, max and throughput (inferences/s), each with its rounding."""
    found = {}
    for key in NAMES:
        text = tool_summary.get(key)
        if text is not None and number(text) is not None:
            found[key] = (number(text), _resolution(text))
    qps = tool_summary.get("qps")
    if "ips" not in found and qps is not None and number(qps):  # trtexec: queries/s, a query is a batch
        found["ips"] = (number(qps) * batch, _resolution(qps) * batch)
    return found


def disagreements(tool: str, tool_summary: dict[str, Any], ours: dict[str, float | None], batch: int) -> list[str]:
    """One line per figure where ours and the tool's differ by more than 1% (and its rounding),
    and where the numbers of timed iterations differ at all."""
    lines = []
    counted, mine = number(tool_summary.get("iterations") or tool_summary.get("queries")), ours.get("iterations")
    if counted is not None and mine is not None and int(counted) != int(mine):
        lines.append(f"{int(mine)} timed iterations here, {int(counted)} in {tool}'s own summary")
    for key, (value, rounding) in theirs(tool_summary, batch).items():
        mine = ours.get(key)
        if mine is None:
            continue
        if abs(mine - value) > max(TOLERANCE * abs(value), rounding):
            unit = " ms" if key.endswith("_ms") else "/s"
            apart = f"{(mine - value) / value:+.1%}" if value else "the tool printed 0"
            lines.append(f"{NAMES[key]} {mine:.4g}{unit} here, {value:.4g}{unit} in {tool}'s own summary ({apart})")
    return lines
