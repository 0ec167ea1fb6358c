"""The report's metrics (DESIGN.md "Metric definitions", D3.3 §3.1), computed here and only here,
into one tidy table: one row per record.

- inference time: mean time of one timed iteration (a batch); median, p90, p99 and CV beside it.
- IPS: inferences in the window / window (latency and accuracy mode: batch / mean inference time,
  the report's definition); published throughput cells keep the report's measured IPS.
- GOPS = IPS x operations per inference / 1e9; performance ratio = GOPS / the catalog's peak.
- power, idle power (power.py); energy per inference = power / IPS; GOPS/W = GOPS / power.
- latency = inference + pre- + post-processing, where measured.
- accuracy: Top-1/Top-5, mAP (scoring.py); a latency/throughput row takes the accuracy of the
  accuracy run with the same target, model, backend and precision, and its comparability verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vedliot_aggregator import power as power_metrics
from vedliot_aggregator import scoring
from vedliot_aggregator.catalog import Catalog
from vedliot_aggregator.collect import Collection

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
INTERNAL = ["published_values"]
#: a coefficient of variation above this is flagged (noisy or throttling)
MAX_CV = 0.2
MIN_ITERATIONS = 10


def _timing_stats(timing: dict[str, Any]) -> dict[str, float | None]:
    samples = timing.get("samples_ns") or []
    if samples:
        ms = np.asarray(samples, dtype=np.float64) / 1e6
        mean = float(ms.mean())
        return {
            "inference_time_ms": mean,
            "inference_median_ms": float(np.median(ms)),
            "inference_p90_ms": float(np.percentile(ms, 90)),
            "inference_p99_ms": float(np.percentile(ms, 99)),
            "inference_cv": float(ms.std() / mean) if mean > 0 else None,
            "iterations": len(ms),
        }
    summary = timing.get("summary") or {}
    return {
        "inference_time_ms": summary.get("mean_ms"),
        "inference_median_ms": summary.get("median_ms"),
        "inference_p90_ms": summary.get("p90_ms"),
        "inference_p99_ms": summary.get("p99_ms"),
        "inference_cv": None,
        "iterations": timing.get("iterations") or None,
    }


def _ips(record: dict[str, Any], mean_ms: float | None) -> float | None:
    timing = record.get("timing") or {}
    summary = timing.get("summary") or {}
    batch = record["config"]["batch_size"]
    if summary.get("ips") is not None:  # published throughput cells: the report's own measurement
        return float(summary["ips"])
    mode = record["config"]["mode"]
    if mode == "throughput" and timing.get("window_start_ns") is not None:
        window = (timing["window_end_ns"] - timing["window_start_ns"]) / 1e9
        return timing["inferences"] / window if window > 0 else None
    return batch * 1000.0 / mean_ms if mean_ms else None


def _latency(timing: dict[str, Any], mean_ms: float | None) -> float | None:
    summary = timing.get("summary") or {}
    if summary.get("latency_ms") is not None:
        return float(summary["latency_ms"])
    pre, post = timing.get("preprocess_samples_ns"), timing.get("postprocess_samples_ns")
    if pre and post and mean_ms is not None:
        return float(np.mean(pre) / 1e6 + mean_ms + np.mean(post) / 1e6)
    return None


def _power(record: dict[str, Any], meter_log: Path | None, clock_offset: float | None):
    power = record.get("power")
    if not power:
        return None, None, None, []
    if power.get("kind") == "summary":
        summary = power.get("summary") or {}
        return summary.get("power_w"), summary.get("idle_power_w"), None, []
    result = power_metrics.compute(record, meter_log, clock_offset)
    if result is None:
        return None, None, None, []
    return result.power_w, result.idle_power_w, result.coverage, list(result.warnings)


def _row(loaded, catalog: Catalog, meter_log: Path | None, clock_offset: float | None) -> dict[str, Any]:
    record = loaded.record
    timing = record.get("timing") or {}
    stats = _timing_stats(timing)
    mean_ms = stats["inference_time_ms"]
    ips = _ips(record, mean_ms)
    ops = ((record["model"].get("ops_per_inference") or {}).get("value")) or None
    gops = ips * ops / 1e9 if ips and ops else None
    target = record["target"]
    options = record["config"].get("backend_options") or {}
    accel = options.get("accelerator_config")
    platform = catalog.find(target["name"])
    precision = record["precision"]["requested"]
    peak = platform.peak(precision, accel) if platform else None
    power_w, idle_w, coverage, warnings = _power(record, meter_log, clock_offset)
    provenance = record.get("provenance") or {}
    effective = record["precision"].get("effective")
    if effective and effective != precision:
        warnings.insert(0, f"requested {precision}, ran {effective}")
    if record["status"] != "ok":
        warnings.insert(0, f"{record['status']}: {(record.get('error') or {}).get('message', '')}".rstrip(": "))
    if gops and platform is None and provenance.get("kind") != "published":
        warnings.append(f"no peak: target '{target['name']}' is not in the platform catalog (add it with --catalog)")
    if stats["iterations"] and stats["iterations"] < MIN_ITERATIONS and record["config"]["mode"] != "accuracy":
        warnings.append(f"only {stats['iterations']} timed iterations")
    if stats["inference_cv"] is not None and stats["inference_cv"] > MAX_CV:
        warnings.append(f"high variation: CV {stats['inference_cv']:.0%}")
    memory = record.get("memory") or {}
    return {
        "target": target["name"],
        "power_mode": target.get("power_mode"),
        "model": record["model"]["name"],
        "backend": record["software"]["backend"]["name"],
        "precision": precision,
        "batch_size": record["config"]["batch_size"],
        "mode": record["config"]["mode"],
        "provenance": provenance.get("kind", "measured"),
        "source": provenance.get("citation") or record["run_id"],
        "table": (provenance.get("published") or {}).get("table"),
        "published_values": (provenance.get("published") or {}).get("values"),
        "status": record["status"],
        "effective_precision": effective,
        "accelerator_config": accel,
        "threads": record["config"].get("threads"),
        **stats,
        "latency_ms": _latency(timing, mean_ms),
        "ips": ips,
        "ops_per_inference": ops,
        "gops": gops,
        "peak_gops": peak,
        "perf_ratio": gops / peak if gops and peak else None,
        "power_w": power_w,
        "idle_power_w": idle_w,
        "dynamic_power_w": power_w - idle_w if power_w is not None and idle_w is not None else None,
        "energy_per_inference_mj": power_w / ips * 1e3 if power_w is not None and ips else None,
        "gops_per_w": gops / power_w if gops and power_w else None,
        "power_coverage": coverage,
        "memory_peak_mb": memory["peak_rss_bytes"] / 1e6 if memory.get("peak_rss_bytes") else None,
        "run_id": record["run_id"],
        "record": str(loaded.path),
        "warnings": warnings,
    }


def frame(
    collection: Collection,
    catalog: Catalog,
    data_roots: Sequence[Path] = (),
    meter_log: Path | None = None,
    clock_offset: float | None = None,
    top1_margin: float = scoring.TOP1_MARGIN,
    map_margin: float = scoring.MAP_MARGIN,
) -> pd.DataFrame:
    rows = [_row(loaded, catalog, meter_log, clock_offset) for loaded in collection.records]
    annotations = scoring.Annotations(data_roots)
    scores = []
    for loaded in collection.records:
        score = scoring.score_record(loaded.record, loaded.path, annotations)
        if score is not None:
            scores.append(score)
    compared = {c.score.run_id: c for c in scoring.compare(scores, top1_margin, map_margin, reference_backend="")}
    # Accuracy of each (target, model, backend, precision), for the speed rows of the same setup.
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
