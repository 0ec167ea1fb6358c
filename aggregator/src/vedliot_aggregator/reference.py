"""The published D3.3 results as records (provenance `published`); audit.py audits them.

results/reference/vedliot-d3.3/transcription/ holds every measured cell of D3.3 Tables 3-116 as
printed (perf-*.csv: one row per table column; accuracy-*.csv: one row per value; platforms-*.yaml).
`build_records` turns them into schema-valid records carrying the raw inputs (inference time,
batch, threads or DPU configuration, power, idle power, memory, accuracy) and, apart, the derived
values as printed. `audit` recomputes the derived columns with the aggregator's own metrics code
and lists every printed cell that does not follow from its inputs, classified (energy printed in J
that are mJ, a ratio that does not follow, a batch-8 time equal to batch 1, mAP labels swapped...):
the report's contradictions are listed, never fixed silently.
"""

from __future__ import annotations

import csv
import math
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vedliot_aggregator.audit import Finding, annotate, audit
from vedliot_aggregator.schema import SCHEMA_ID, unknown_host

__all__ = ["Finding", "annotate", "audit", "build_records", "default_records_dir", "write_records"]

REPORT = "VEDLIoT D3.3 v1.1"
REPORT_DATE = "2023-10-25T00:00:00Z"
#: D3.3 Table 1, GOps per inference (MobileNetV2 is not in it: derived from the DPU tables)
TABLE1_GOPS = {"resnet50": 7.78, "mobilenetv3_small": 0.178, "yolov4": 60.4}
_NAMESPACE = uuid.UUID("5b0c4d1e-7f3a-4c55-9e4c-0d3d3a0f2b11")
TASKS = {"yolov4": "detection"}


def default_records_dir() -> Path | None:
    """The shipped reference records: $VEDLIOT_REFERENCE, else results/reference/vedliot-d3.3/records
    of the source tree this package runs from (an editable install, or the aggregator image)."""
    import os

    if os.environ.get("VEDLIOT_REFERENCE"):
        return Path(os.environ["VEDLIOT_REFERENCE"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "results" / "reference" / "vedliot-d3.3" / "records"
        if candidate.is_dir():
            return candidate
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip().replace("%", "").replace(",", ".")
    if not text or text in ("-", "—"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows(directory: Path, prefix: str) -> list[dict[str, str]]:
    rows = []
    for path in sorted(directory.glob(f"{prefix}-*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows.append({k: (v or "").strip() for k, v in row.items() if k})
    return rows


def _memory_bytes(text: str) -> int | None:
    text = text.strip().upper().replace(",", ".")
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if text.endswith(unit):
            value = _number(text[: -len(unit)])
            return int(value * scale) if value is not None else None
    value = _number(text)
    return int(value * 1e9) if value is not None else None  # a bare number in a "[GB]" row


def _mobilenetv2_gops(rows: list[dict[str, str]]) -> float | None:
    ratios = sorted(
        _number(r["gops"]) / _number(r["ips"])
        for r in rows
        if r["model"] == "mobilenetv2" and _number(r["gops"]) and _number(r["ips"])
    )
    return round(ratios[len(ratios) // 2], 4) if ratios else None


def _base(run_key: str, table: int, platform: str, power_mode: str, model: str, toolchain: str, precision: str):
    return {
        "schema": SCHEMA_ID,
        "run_id": str(uuid.uuid5(_NAMESPACE, run_key)),
        "status": "ok",
        "error": None,
        "started_at": REPORT_DATE,
        "finished_at": REPORT_DATE,
        "provenance": {"kind": "published", "citation": f"D3.3 Table {table}"},
        "target": {"name": platform, "image": None, "image_digest": None, "power_mode": power_mode or None},
        "host": unknown_host(platform),
        "software": {"runner": REPORT, "backend": {"name": toolchain, "version": None}, "packages": {}},
        "model": {
            "name": model,
            "path": None,
            "sha256": None,
            "format": "other",
            "task": TASKS.get(model, "classification"),
            "inputs": [],
            "ops_per_inference": None,
        },
        "precision": {"requested": precision, "effective": None},
        "config": {
            "batch_size": 1,
            "mode": "latency",
            "warmup_iterations": 0,
            "warmup_seconds": 0,
            "min_iterations": 1,
            "min_seconds": 0,
        },
        "timing": {"clock": "monotonic_ns", "iterations": 0, "inferences": 0, "summary": {}},
        "memory": None,
        "power": None,
        "accuracy": None,
    }


def _perf_record(row: dict[str, str], ops_gops: dict[str, float | None], power_source: dict[str, str]):
    table = int(row["table"])
    batch = int(_number(row["batch_size"]) or 1)
    threads = int(_number(row["threads"])) if _number(row["threads"]) else None
    parts = [row[k] for k in ("table", "platform", "power_mode", "model", "toolchain", "precision")]
    key = "/".join(["perf", *parts, str(batch), str(threads or ""), row["accelerator_config"]])
    record = _base(key, table, row["platform"], row["power_mode"], row["model"], row["toolchain"], row["precision"])
    mean_ms, ips = _number(row["inference_time_ms"]), _number(row["ips"])
    # FPGA DPUs: the printed "inference time" is the DPU's run alone while IPS was measured end to
    # end (with several threads in flight): the report's IPS is a throughput of its own.
    throughput = bool(threads and threads > 1) or bool(row["accelerator_config"])
    record["config"].update(batch_size=batch, mode="throughput" if throughput else "latency", threads=threads)
    if row["accelerator_config"]:
        record["config"]["backend_options"] = {"accelerator_config": row["accelerator_config"]}
    gops = ops_gops.get(row["model"])
    if gops:
        note = "D3.3 Table 1" if row["model"] in TABLE1_GOPS else "derived from D3.3's GOPS / IPS of this model"
        record["model"]["ops_per_inference"] = {"value": gops * 1e9, "source": "published", "note": note}
    summary: dict[str, Any] = {"mean_ms": mean_ms}
    if _number(row["latency_ms"]) is not None:
        summary["latency_ms"] = _number(row["latency_ms"])
    if throughput and ips is not None:
        summary["ips"] = ips
    record["timing"]["summary"] = summary
    if row["status"] not in ("", "ok") or mean_ms is None:
        record["status"] = "unsupported"
        record["timing"] = None
        message = row["notes"] or row["status"] or "no value in the table"
        record["error"] = {"type": "Published", "message": f"D3.3 Table {table}: {message}", "stage": "setup"}
    memory = _memory_bytes(row["memory_printed"]) if row["memory_printed"] else None
    record["memory"] = {"peak_rss_bytes": None, "device_peak_bytes": memory}
    power, idle = _number(row["power_w"]), _number(row["idle_power_w"])
    if power is not None or idle is not None:
        record["power"] = {
            "source": power_source.get(row["platform"], "as published"),
            "kind": "summary",
            "summary": {"power_w": power, "idle_power_w": idle},
        }
    record["provenance"]["published"] = _printed(row, table)
    return record


def _printed(row: dict[str, str], table: int) -> dict[str, Any]:
    """The derived cells as the report printed them, for the audit."""
    values = {
        "ips": _number(row["ips"]),
        "gops": _number(row["gops"]),
        "peak_gops": _number(row["peak_gops"]),
        "perf_ratio_percent": _number(row["perf_ratio_percent"]),
        "energy_per_inference": _number(row["energy_per_inference"]),
        "energy_unit": row["energy_unit_printed"] or None,
        "gops_per_w": _number(row["gops_per_w"]),
        "memory": row["memory_printed"] or None,
    }
    return {"table": table, "values": values, "notes": row["notes"] or None}


def _accuracy_records(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        key = (row["table"], row["platform"], row["model"], row["toolchain"], row["precision"])
        groups.setdefault(key, []).append(row)
    records = []
    for (table, platform, model, toolchain, precision), members in groups.items():
        key = "/".join(["accuracy", table, platform, model, toolchain, precision])
        record = _base(key, int(table), platform, "", model, toolchain, precision)
        record["config"]["mode"] = "accuracy"
        task = TASKS.get(model, "classification")
        summary = {m["metric"]: _number(m["value_percent"]) for m in members if m["metric"]}
        record["accuracy"] = {
            "dataset": {
                "name": "coco" if task == "detection" else "imagenet",
                "split": "val2017" if task == "detection" else "val",
                "kind": "coco" if task == "detection" else "imagenet",
                "samples": 0,
            },
            "task": task,
            "samples_evaluated": 0,
            "predictions": None,
            "summary": summary,
        }
        notes = "; ".join(m["notes"] for m in members if m["notes"]) or None
        printed = {m["metric"] + "_printed_as": m["metric_printed"] for m in members}
        record["provenance"]["published"] = {"table": int(table), "values": printed, "notes": notes}
        records.append(record)
    return records


def build_records(directory: Path) -> list[dict[str, Any]]:
    perf = _rows(directory, "perf")
    ops = dict(TABLE1_GOPS)
    ops["mobilenetv2"] = _mobilenetv2_gops(perf)
    power_source = _power_sources(directory)
    records = [_perf_record(row, ops, power_source) for row in perf]
    records += _accuracy_records(_rows(directory, "accuracy"))
    return records


def _power_sources(directory: Path) -> dict[str, str]:
    import yaml

    out = {}
    for path in sorted(directory.glob("platforms-*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            out[item["id"]] = item.get("power_measurement") or "as published"
    return out


def write_records(records: Iterable[dict[str, Any]], output: Path) -> int:
    from vedliot_aggregator.writing import write_record

    count = 0
    for record in records:
        write_record(record, output)
        count += 1
    return count
