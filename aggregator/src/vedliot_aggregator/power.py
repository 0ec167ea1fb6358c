"""Power metrics of a record (DESIGN.md, D3.3 §3.1.3), from the raw samples the runner stored:

- power: time-weighted mean of the summed rails over the timed window. Energy counters (RAPL,
  NVML's total energy) are interpolated at the window's two ends and differentiated; power
  readings are integrated piecewise-linearly, the window's ends taking interpolated values.
- idle power: the same over the idle period measured before the model loaded; dynamic = power - idle.
- energy per inference = power x window / inferences; GOPS/W = GOPS / power.
- validity: the share of the window covered by samples (a reading covers half an interval on
  each side; a counter covers the span between the readings around it), the samples in the
  window, sensor errors, a window shorter than the sensor's own averaging period.

External meters (`--power external`) store no samples: their log (a simple `timestamp,watts`
CSV, or PTDaemon rows) is merged here by wall-clock time, with the clock offset of the run's
options or the one given.
"""

from __future__ import annotations

import csv
import datetime
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vedliot_aggregator.records import Power, PowerSummary, Record

#: a window less covered than this gets a warning
MIN_COVERAGE = 0.9


@dataclass(frozen=True)
class Series:
    """Summed readings on one clock, in time order: seconds, and joules (energy) or watts (power).
    Plain lists: a record holds tens to thousands of readings, where numpy's cost per call (about
    20 calls a window) was three times the arithmetic (docs/benchmarks.md, report speed)."""

    t: list[float]
    value: list[float]
    kind: str
    interval_s: float


@dataclass(frozen=True)
class PowerResult:
    power_w: float | None
    idle_power_w: float | None
    coverage: float
    samples_in_window: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def dynamic_power_w(self) -> float | None:
        if self.power_w is None or self.idle_power_w is None:
            return None
        return self.power_w - self.idle_power_w


def _series(power: Power) -> Series:
    samples = power.samples
    columns = [samples.values[rail] for rail in power.summed]
    interval = power.interval_ms / 1e3
    if not columns or not samples.t_ns:
        return Series([], [], power.kind, interval)
    # a reading missing one summed rail is dropped, not counted as 0 W
    if len(columns) == 1:
        kept = [(t / 1e9, v) for t, v in zip(samples.t_ns, columns[0], strict=True) if v is not None]
    else:
        kept = [(t / 1e9, sum(vs)) for t, *vs in zip(samples.t_ns, *columns, strict=True) if None not in vs]
    return Series([t for t, _ in kept], [float(v) for _, v in kept], power.kind, interval)


def _interp(x: float, t: list[float], v: list[float]) -> float:
    """numpy.interp at one point: linear between the readings around x, the end values beyond."""
    if x <= t[0]:
        return v[0]
    if x >= t[-1]:
        return v[-1]
    j = bisect_right(t, x) - 1
    return (v[j + 1] - v[j]) / (t[j + 1] - t[j]) * (x - t[j]) + v[j]


def _mean_power(series: Series, start: float, end: float) -> tuple[float | None, float]:
    """(mean watts over [start, end], covered share of it)."""
    t, v = series.t, series.value
    length = end - start
    if length <= 0 or not t:
        return None, 0.0
    if series.kind == "energy":
        if len(t) < 2:
            return None, 0.0
        lo, hi = max(start, t[0]), min(end, t[-1])
        if hi <= lo:
            return None, 0.0
        return (_interp(hi, t, v) - _interp(lo, t, v)) / (hi - lo), (hi - lo) / length
    covered = _covered(t, series.interval_s / 2, start, end) / length
    first, last = bisect_right(t, start), bisect_left(t, end)  # the readings strictly inside
    if first >= last and covered == 0:
        return None, 0.0
    points_t = [start, *t[first:last], end]
    points_v = [_interp(start, t, v), *v[first:last], _interp(end, t, v)]
    steps = zip(points_t, points_t[1:], points_v, points_v[1:], strict=False)  # pairs of neighbours
    area = math.fsum((v0 + v1) * (t1 - t0) for t0, t1, v0, v1 in steps) / 2
    return area / length, covered


def _covered(t: list[float], half: float, start: float, end: float) -> float:
    """Length of [start, end] within `half` of some reading."""
    total, reach = 0.0, start  # reach: the furthest end covered by the readings before
    for centre in t[bisect_left(t, start - half) : bisect_right(t, end + half)]:
        lo, hi = centre - half, centre + half  # conditionals, not min/max: 3x faster a reading
        lo = reach if reach > lo else lo  # reach >= start
        hi = end if end < hi else hi
        if hi > lo:
            total += hi - lo
            reach = hi
    return total


def window_of(record: Record) -> tuple[float, float] | None:
    timing = record.timing
    if timing is None or timing.window_s is None:
        return None
    return timing.window_start_ns / 1e9, timing.window_end_ns / 1e9


def compute(record: Record, meter_log: Path | None = None, clock_offset_s: float | None = None) -> PowerResult | None:
    """Power of a record (None when it has no samples: no power section, or a published summary)."""
    power = record.power
    if not isinstance(power, Power):
        return None
    window = window_of(record)
    warnings: list[str] = []
    if power.source == "external":
        series, window, idle = _external(record, power, meter_log, clock_offset_s, warnings)
    else:
        series = _series(power)
        idle = (power.idle.start_ns / 1e9, power.idle.end_ns / 1e9) if power.idle else None
    if window is None:
        return PowerResult(None, None, 0.0, 0, (*warnings, "no timed window"))
    watts, coverage = _mean_power(series, *window)
    idle_w = _mean_power(series, *idle)[0] if idle else None
    in_window = bisect_right(series.t, window[1]) - bisect_left(series.t, window[0])
    if coverage < MIN_COVERAGE:
        warnings.append(f"power samples cover {coverage:.0%} of the timed window (< {MIN_COVERAGE:.0%})")
    if power.validity.window_shorter_than_sensor_period:
        warnings.append(
            f"timed window shorter than the sensor's {power.sensor_period_s} s averaging period: "
            "rerun with a larger --min-power-seconds"
        )
    if power.errors:
        warnings.append(f"{len(power.errors)} sensor errors during the run (first: {power.errors[0].message})")
    if idle and idle_w is None:
        warnings.append("no power samples in the idle period")
    return PowerResult(watts, idle_w, coverage, in_window, (*warnings, *_source_warnings(power)))


def _source_warnings(power: Power) -> list[str]:
    """What the rails summed leave out or get wrong: a board outside the rail table, a module
    without its carrier, readings below zero (Thor's VDD_GPU idles at -392 mW, an offset); a BMC
    read over HTTPS without checking its certificate."""
    warnings = []
    if str(power.details.get("tls", "")).startswith("not verified"):
        warnings.append(f"power read over HTTPS from {power.details.get('url')} without checking its certificate")
    rule = power.details.get("rule") if isinstance(power.details, dict) else None
    if isinstance(rule, dict) and (
        rule.get("source") == "fallback" or str(rule.get("scope", "")).startswith("module rails only")
    ):
        warnings.append(f"power from {'+'.join(power.summed)}: {rule.get('scope')} ({rule.get('evidence')})")
    for rail in power.summed:
        values = [v for v in power.samples.values.get(rail, ()) if v is not None]
        negative = [v for v in values if v < 0]
        if negative:
            warnings.append(
                f"rail {rail} read below 0 W in {len(negative)} of {len(values)} samples "
                f"(lowest {min(negative):.3f} W), summed as read: a sensor offset"
            )
    return warnings


# -- external meter logs ----------------------------------------------------------------------


def _parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)  # Unix seconds
    except ValueError:
        pass
    for fmt in ("%m-%d-%Y %H:%M:%S.%f", "%m-%d-%Y %H:%M:%S"):
        # PTDaemon under MLCommons' power server runs with TZ=UTC (power-dev 4e89df8, 2021-03-31);
        # a log from before that is in its host's local time: pass its offset as --clock-offset.
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC).timestamp()
        except ValueError:
            continue
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # naive ISO: the host's local time, as meters write it
    return parsed.timestamp()


def read_meter_log(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(Unix seconds, watts) of a meter log: `timestamp,watts` CSV rows (Unix seconds or ISO 8601;
    a header line is skipped) or PTDaemon rows `Time,MM-DD-YYYY HH:MM:SS.mmm,Watts,W,...` (UTC; with
    several channels the first Watts is their total)."""
    times, watts = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if not row or row[0].startswith("#"):
                continue
            try:
                if row[0] == "Time":
                    if len(row) < 4 or row[2] != "Watts":
                        continue  # PTDaemon NOTICE/ERROR rows
                    t, w = _parse_time(row[1]), float(row[3])
                else:
                    t, w = _parse_time(row[0]), float(row[1])
            except (ValueError, IndexError):
                if number == 1:
                    continue  # a header
                raise ValueError(f"{path}:{number}: expected timestamp,watts or a PTDaemon row") from None
            if w >= 0 and math.isfinite(w):  # PTDaemon writes -1 for channels it did not read
                times.append(t)
                watts.append(w)
    order = np.argsort(times, kind="stable")
    return np.asarray(times)[order], np.asarray(watts)[order]


def _external(record: Record, power: Power, meter_log, clock_offset_s, warnings):
    logged = power.options.get("log")
    log = meter_log or (Path(logged) if logged else None)
    timing = record.timing
    if log is None or not log.is_file():
        warnings.append(f"meter log {log or '(none given)'} not found: pass --meter-log")
        return Series([], [], "power", 1.0), None, None
    offset = clock_offset_s if clock_offset_s is not None else float(power.options.get("offset_s") or 0)
    t, w = read_meter_log(log)
    t = t - offset  # meter clock -> host clock
    interval = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    series = Series(t.tolist(), w.tolist(), "power", interval)
    window = None
    if timing is not None and timing.window_start_unix_ns is not None and timing.window_s is not None:
        start = timing.window_start_unix_ns / 1e9
        window = (start, start + timing.window_s)
    idle = None
    if power.idle is not None:
        start = power.idle.start_unix_ns / 1e9
        idle = (start, start + (power.idle.end_ns - power.idle.start_ns) / 1e9)
    return series, window, idle


# -- derived metrics ------------------------------------------------------------------------------


def energy_per_inference_mj(power_w: float | None, window_s: float, inferences: int) -> float | None:
    if power_w is None or inferences <= 0:
        return None
    return power_w * window_s / inferences * 1e3


def gops_per_w(gops: float | None, power_w: float | None) -> float | None:
    if gops is None or not power_w:
        return None
    return gops / power_w


def summary_metrics(summary: PowerSummary) -> dict[str, Any]:
    """The columns of a published power summary: its figures, nothing recomputed (the report
    audits them against the table's other cells)."""
    power_w, idle_w = summary.power_w, summary.idle_power_w
    return {
        "ips": None,
        "gops": None,
        "power_w": power_w,
        "idle_power_w": idle_w,
        "dynamic_power_w": power_w - idle_w if power_w is not None and idle_w is not None else None,
        "energy_per_inference_mj": None,
        "gops_per_w": None,
        "power_coverage": None,
        "power_samples_in_window": None,
        "warnings": ["published figures: no samples to recompute them from"],
    }


def run_metrics(record: Record, result: PowerResult | None) -> dict[str, Any]:
    """The speed and power columns of one record: IPS, GOPS, power, energy, GOPS/W."""
    window = window_of(record)
    window_s = window[1] - window[0] if window else 0.0
    inferences = record.timing.inferences if record.timing is not None else 0
    ips = inferences / window_s if window_s > 0 else None
    ops = record.model.ops_per_inference
    gops = ips * ops.value / 1e9 if ips is not None and ops is not None else None
    power_w = result.power_w if result else None
    return {
        "ips": ips,
        "gops": gops,
        "power_w": power_w,
        "idle_power_w": result.idle_power_w if result else None,
        "dynamic_power_w": result.dynamic_power_w if result else None,
        "energy_per_inference_mj": energy_per_inference_mj(power_w, window_s, inferences),
        "gops_per_w": gops_per_w(gops, power_w),
        "power_coverage": result.coverage if result else None,
        "power_samples_in_window": result.samples_in_window if result else None,
        "warnings": list(result.warnings) if result else [],
    }
