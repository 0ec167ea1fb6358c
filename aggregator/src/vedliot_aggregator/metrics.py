"""The report's metrics (DESIGN.md "Metric definitions", D3.3 §3.1), computed here and only here,
into one tidy table: one row per record.

- inference time: mean time of one timed iteration (a batch); median, p90, p99 and CV beside it.
- IPS: inferences in the window / window (latency and accuracy mode: batch / mean inference time,
  the report's definition); published throughput cells keep the report's measured IPS; imported
  runs take their tool's definition (inferences over the window), and a figure of ours more than
  1% from the tool's own summary is a warning (importers/check.py).
- GOPS = IPS x operations per inference / 1e9; performance ratio = GOPS / the catalog's peak.
- power, idle power (power.py); energy per inference = power / IPS; GOPS/W = GOPS / power.
- latency = inference + pre- + post-processing, where measured.
- accuracy: Top-1/Top-5, mAP (scoring.py); a latency/throughput row takes the accuracy of the
  accuracy run with the same target, model, backend and precision, and its comparability verdict.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from vedliot_aggregator import cpu_peak, parallel, scoring, throttle
from vedliot_aggregator import power as power_metrics
from vedliot_aggregator.catalog import Catalog
from vedliot_aggregator.collect import Collection
from vedliot_aggregator.importers.check import disagreements
from vedliot_aggregator.records import PowerSummary, Record, Timing

COLUMNS = [
    "target",
    "power_mode",
    "model",
    "backend",
    "precision",
    "batch_size",
    "mode",
    "provenance",
    "source",
    "table",
    "status",
    "effective_precision",
    "int8_form",
    "accelerator_config",
    "threads",
    "iterations",
    "inference_time_ms",
    "inference_median_ms",
    "inference_p90_ms",
    "inference_p99_ms",
    "inference_cv",
    "latency_ms",
    "ips",
    "ops_per_inference",
    "gops",
    "peak_gops",
    "peak_source",
    "peak_basis",
    "perf_ratio",
    "power_w",
    "idle_power_w",
    "dynamic_power_w",
    "energy_per_inference_mj",
    "gops_per_w",
    "power_coverage",
    "top1",
    "top5",
    "map50",
    "map50_95",
    "accuracy_delta",
    "comparable",
    "memory_peak_mb",
    "run_id",
    "record",
    "warnings",
]
#: kept in the frame for the audit of published rows, not written to metrics.csv
INTERNAL = ["published_values", "copies", "spread_ms", "started_at", "cpu_host"]
#: a coefficient of variation above this is flagged (noisy or throttling)
MAX_CV = 0.2
MIN_ITERATIONS = 10


#: the quantiles of the iteration times a row keeps: min, quartiles, max (the latency chart), p90, p99
_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0, 0.9, 0.99)


@functools.lru_cache(maxsize=64)
def _quantile_plan(count: int, q: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Where each quantile of `count` sorted values lies: per record these few small arrays took
    as long as the sort (a run has one sample count, a results directory a handful)."""
    position = np.array(q) * (count - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, count - 1)
    t = position - low
    return low, high, t, t >= 0.5, 1 - t


def quantiles(sorted_values: np.ndarray, q: tuple[float, ...] = _QUANTILES) -> np.ndarray:
    """np.percentile's default (linear) method on values sorted once: one sort for every
    quantile of a record instead of a partition per numpy call, which dominated 10,000 records."""
    low, high, t, upper, rest = _quantile_plan(len(sorted_values), q)
    a, b = sorted_values[low], sorted_values[high]
    # numpy's _lerp: from the nearer end, so that a quantile on a sample is that sample exactly
    return np.where(upper, b - (b - a) * rest, a + (b - a) * t)


def _timing_stats(timing: Timing) -> dict[str, Any]:
    if timing.samples_ns:
        ms = np.array(timing.samples_ns, dtype=np.float64)
        ms /= 1e6
        ms.sort()
        mean = float(ms.sum() / len(ms))  # ms.mean() and ms.std() exactly, without their per-call checks
        spread = ms - mean
        spread *= spread
        lo, q1, median, q3, hi, p90, p99 = quantiles(ms).tolist()
        return {
            "inference_time_ms": mean,
            "inference_median_ms": median,
            "inference_p90_ms": p90,
            "inference_p99_ms": p99,
            "inference_cv": math.sqrt(float(spread.sum() / len(ms))) / mean if mean > 0 else None,
            "iterations": len(ms),
            "spread_ms": (lo, q1, median, q3, hi),
        }
    summary = timing.summary
    return {
        "inference_time_ms": summary.get("mean_ms"),
        "inference_median_ms": summary.get("median_ms"),
        "inference_p90_ms": summary.get("p90_ms"),
        "inference_p99_ms": summary.get("p99_ms"),
        "inference_cv": None,
        "iterations": timing.iterations or None,
        "spread_ms": None,
    }


def _ips(record: Record, timing: Timing, mean_ms: float | None) -> float | None:
    if timing.summary.get("ips") is not None:  # published throughput cells: the report's own measurement
        return float(timing.summary["ips"])
    # Imported runs: the tool's definition (trtexec, benchmark_app: inferences over the window),
    # whatever the mode, so that the row shows the figure the tool printed.
    # A self-timed backend (trtexec) is the tool's definition too: its window is the tool's.
    windowed = record.config.mode == "throughput" or record.provenance.kind == "imported" or timing.tool is not None
    if windowed and timing.window_start_ns is not None and timing.inferences:
        window = (timing.window_end_ns - timing.window_start_ns) / 1e9
        return timing.inferences / window if window > 0 else None
    return record.config.batch_size * 1000.0 / mean_ms if mean_ms else None


def _latency(timing: Timing, mean_ms: float | None) -> float | None:
    if timing.summary.get("latency_ms") is not None:
        return float(timing.summary["latency_ms"])
    pre, post = timing.preprocess_samples_ns, timing.postprocess_samples_ns
    if pre and post and mean_ms is not None:
        return float(np.mean(pre) / 1e6 + mean_ms + np.mean(post) / 1e6)
    return None


def _power(record: Record, meter_log: Path | None, clock_offset: float | None):
    power = record.power
    if power is None:
        return None, None, None, []
    if isinstance(power, PowerSummary):
        return power.power_w, power.idle_power_w, None, []
    result = power_metrics.compute(record, meter_log, clock_offset)
    if result is None:
        return None, None, None, []
    return result.power_w, result.idle_power_w, result.coverage, list(result.warnings)


def _warnings(record: Record, stats: dict[str, Any], ips: float | None, power: list[str]) -> list[str]:
    warnings = []
    if record.status != "ok":
        message = record.error.message if record.error is not None else ""
        warnings.append(f"{record.status}: {message}".rstrip(": "))
    requested, effective = record.precision.requested, record.precision.effective
    if effective and effective != requested:
        warnings.append(f"requested {requested}, ran {effective}")
    warnings += power + throttle.warnings(record) + _fallback(record) + _untuned(record)
    if stats["iterations"] and stats["iterations"] < MIN_ITERATIONS and record.config.mode != "accuracy":
        warnings.append(f"only {stats['iterations']} timed iterations")
    if stats["inference_cv"] is not None and stats["inference_cv"] > MAX_CV:
        warnings.append(f"high variation: CV {stats['inference_cv']:.0%}")
    if record.memory is not None and record.memory.scope == "process" and record.memory.peak_rss_bytes:
        warnings.append("memory peak of the whole runner process (schema 1): may include earlier runs")
    return warnings + _imported_warnings(record, stats, ips)


def _fallback(record: Record) -> list[str]:
    """Operators an accelerator left to the CPU (Edge TPU, VX delegate), or a model the DPU compiler
    split into several subgraphs (one DPU subgraph was timed): the figures are not the whole model's."""
    options = record.config.backend_options
    warnings = []
    count = options.get("cpu_ops")
    if _positive(count):
        names = options.get("cpu_op_names")
        warnings.append(f"{count} operator(s) fell back to the CPU" + (f" ({names})" if names else ""))
    dpu, cpu = options.get("dpu_subgraphs"), options.get("cpu_subgraphs")
    if (_positive(dpu) and dpu > 1) or _positive(cpu):
        warnings.append(
            f"the xmodel is split into {dpu} DPU and {cpu} CPU subgraph(s): only DPU subgraph "
            f"{options.get('subgraph')!r} was timed"
        )
    return warnings


def _untuned(record: Record) -> list[str]:
    """A TVM run on TVM's default schedules: D3.3's TVM rows are tuned compiler results."""
    if record.backend != "tvm" or record.provenance.kind == "published" or record.status != "ok":
        return []
    if record.config.backend_options.get("tuned") is True:
        return []
    return ["untuned TVM: default schedules, not comparable with tuned results such as D3.3's TVM rows "
            "(tune with --backend-option tune=SECONDS)"]  # fmt: skip


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _imported_warnings(record: Record, stats: dict[str, Any], ips: float | None) -> list[str]:
    imported = record.provenance.imported
    timing = record.timing
    if record.provenance.kind != "imported" or imported is None:
        if timing is None or not timing.tool or not timing.tool.get("summary"):
            return []
        # a measured run of a self-timed backend: our figures from its trace against its own summary
        tool = timing.tool
        imported = SimpleNamespace(tool=tool.get("name"), tool_summary=tool["summary"], warnings=())
    samples = timing.samples_ns if timing is not None else []
    extremes = (min(samples) / 1e6, max(samples) / 1e6) if samples else (None, None)
    if timing is not None and not samples:
        extremes = (timing.summary.get("min_ms"), timing.summary.get("max_ms"))
    ours = {"mean_ms": stats["inference_time_ms"], "median_ms": stats["inference_median_ms"], "ips": ips,
            "min_ms": extremes[0], "max_ms": extremes[1],
            "iterations": timing.iterations if timing else None}  # fmt: skip
    found = disagreements(imported.tool or "the tool", imported.tool_summary, ours, record.config.batch_size)
    return list(imported.warnings) + found


def _peak(row: dict[str, Any], catalog: Catalog, peaks: Sequence[cpu_peak.PeakRecord]) -> tuple:
    """(peak GOPS, source, basis): the catalog's for a listed target (published rows: only that);
    for a run on an unlisted CPU, a measured peak of that CPU, else one estimated from its facts."""
    platform = catalog.find(row["target"])
    peak = platform.peak(row["precision"], row["accelerator_config"]) if platform else None
    if peak is not None:
        return peak, "catalog", platform.peak_derivation
    host = row["cpu_host"]
    if platform or row["provenance"] == "published" or host is None:
        return None, None, None
    # what ran: OpenVINO runs an fp16 request as bf16 on a CPU with AMX, and says so; a "mixed"
    # int8 model keeps the requested precision's peak
    effective = row["effective_precision"]
    ran = effective if effective in cpu_peak.PRECISIONS else row["precision"]
    found = cpu_peak.host_peak(host, ran, list(peaks))
    return (found.gops, found.source, found.derivation) if found else (None, None, None)


def place_peaks(rows: list[dict[str, Any]], catalog: Catalog, peaks: Sequence[cpu_peak.PeakRecord]) -> None:
    """Each row's peak and performance ratio, and a warning where a measured row has none. A
    cross-record step (a peak record may be any file), after the record-local rows; rows of
    the same target, precision and CPU share one lookup."""
    found: dict[tuple, tuple] = {}
    for row in rows:
        host = row["cpu_host"]
        key = (row["target"], row["precision"], row["effective_precision"], row["accelerator_config"],
               row["provenance"] == "published", cpu_peak.host_key(host) if host is not None else None)  # fmt: skip
        if key not in found:
            found[key] = _peak(row, catalog, peaks)
        peak, source, basis = found[key]
        gops = row["gops"]
        ratio = gops / peak if gops and peak else None
        row.update(peak_gops=peak, peak_source=source, peak_basis=basis, perf_ratio=ratio)
        if ratio is not None and ratio > 1 and row["provenance"] != "published":
            row["warnings"].append(
                f"{ratio:.0%} of the {source} peak ({peak:.4g} GOPS): above it, so the peak is too low "
                "(a measured one taken under load: run `vedliot-runner peak` again on an idle host) "
                "or the model's operation count is too high"
            )
        if gops and peak is None and row["provenance"] != "published":
            hint = "add it with --catalog"
            if host is not None:
                hint += ", or run `vedliot-runner peak` on that host (its record has no clock to estimate one)"
            row["warnings"].append(f"no peak: target '{row['target']}' is not in the platform catalog ({hint})")


def record_row(loaded, meter_log: Path | None = None, clock_offset: float | None = None) -> dict[str, Any]:
    """One record's row from the record alone: the peak and accuracy columns are filled by the
    cross-record steps (place_peaks, finish)."""
    record: Record = loaded.record
    timing = record.timing or Timing()
    stats = _timing_stats(timing)
    mean_ms = stats["inference_time_ms"]
    ips = _ips(record, timing, mean_ms)
    ops = record.model.ops_per_inference.value if record.model.ops_per_inference else None
    gops = ips * ops / 1e9 if ips and ops else None
    accel = record.config.backend_options.get("accelerator_config")
    precision = record.precision.requested
    power_w, idle_w, coverage, power_warnings = _power(record, meter_log, clock_offset)
    published = record.provenance.published
    memory = record.memory
    return {
        "target": record.target.name,
        "power_mode": record.target.power_mode,
        "model": record.model.name,
        "backend": record.backend,
        "precision": precision,
        "batch_size": record.config.batch_size,
        "mode": record.config.mode,
        "provenance": record.provenance.kind,
        "source": record.provenance.citation or record.run_id,
        "table": published.table if published else None,
        "published_values": published.values if published else None,
        "status": record.status,
        "effective_precision": record.precision.effective,
        "int8_form": (record.model.quantization or {}).get("name"),
        "accelerator_config": accel,
        "threads": record.config.threads,
        **stats,
        "latency_ms": _latency(timing, mean_ms),
        "ips": ips,
        "ops_per_inference": ops,
        "gops": gops,
        "peak_gops": None,
        "peak_source": None,
        "peak_basis": None,
        "perf_ratio": None,
        "power_w": power_w,
        "idle_power_w": idle_w,
        "dynamic_power_w": power_w - idle_w if power_w is not None and idle_w is not None else None,
        "energy_per_inference_mj": power_w / ips * 1e3 if power_w is not None and ips else None,
        "gops_per_w": gops / power_w if gops and power_w else None,
        "power_coverage": coverage,
        "memory_peak_mb": memory.peak_rss_bytes / 1e6 if memory and memory.peak_rss_bytes else None,
        "run_id": record.run_id,
        "record": str(loaded.path),
        "warnings": _warnings(record, stats, ips, power_warnings),
        "copies": timing.includes_host_device_copies,
        "started_at": record.started_at,
        "cpu_host": record.host if cpu_peak.on_cpu(record.backend, record.config.backend_options) else None,
    }


def row(loaded, catalog: Catalog) -> dict[str, Any]:
    """One record's row, as the report shows it."""
    done = record_row(loaded)
    place_peaks([done], catalog, ())
    return done


def frame(
    collection: Collection,
    catalog: Catalog,
    data_roots: Sequence[Path] = (),
    meter_log: Path | None = None,
    clock_offset: float | None = None,
    top1_margin: float = scoring.TOP1_MARGIN,
    map_margin: float = scoring.MAP_MARGIN,
) -> pd.DataFrame:
    rows = parallel.ordered_map(lambda loaded: record_row(loaded, meter_log, clock_offset), collection.records)
    annotations = scoring.Annotations(data_roots)
    scores = [scoring.score_record(loaded.record, loaded.path, annotations) for loaded in collection.records]
    return finish(rows, [s for s in scores if s is not None], catalog, collection.peaks, top1_margin, map_margin)


def finish(
    rows: list[dict[str, Any]],
    scores: Sequence[scoring.Score],
    catalog: Catalog,
    peaks: Sequence[cpu_peak.PeakRecord],
    top1_margin: float = scoring.TOP1_MARGIN,
    map_margin: float = scoring.MAP_MARGIN,
) -> pd.DataFrame:
    """The table from record-local rows: peaks placed, and each row's accuracy (its own, or that
    of the accuracy run of the same target, model, backend and precision) with its verdict."""
    place_peaks(rows, catalog, peaks)
    compared = {c.score.run_id: c for c in scoring.compare(scores, top1_margin, map_margin, reference_backend="")}
    by_setup: dict[tuple, scoring.Compared] = {}
    for row in rows:
        c = compared.get(row["run_id"])
        if c is not None and c.score.primary is not None:
            by_setup.setdefault((row["target"], row["model"], row["backend"], row["precision"]), c)
    for row in rows:
        c = compared.get(row["run_id"]) or by_setup.get((row["target"], row["model"], row["backend"], row["precision"]))
        if c is None:
            continue
        s = c.score
        row.update(top1=s.top1, top5=s.top5, map50=s.map50, map50_95=s.map50_95)
        row.update(accuracy_delta=c.delta, comparable=c.comparable)
        row["warnings"].extend(n for n in c.notes if n.startswith("not comparable") or n.startswith("partial"))
    table = pd.DataFrame(rows, columns=COLUMNS + INTERNAL)
    table["warnings"] = table["warnings"].map(lambda w: "; ".join(w) if isinstance(w, list) else (w or ""))
    return table
