"""The published D3.3 results as records (provenance `published`), and their audit.

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
import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vedliot_aggregator.schema import SCHEMA_ID, unknown_host

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
    key = "/".join(
        [
            "perf",
            row["table"],
            row["platform"],
            row["power_mode"],
            row["model"],
            row["toolchain"],
            row["precision"],
            str(batch),
            str(threads or ""),
            row["accelerator_config"],
        ]
    )
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
    record["provenance"]["published"] = {
        "table": table,
        "values": {
            "ips": ips,
            "gops": _number(row["gops"]),
            "peak_gops": _number(row["peak_gops"]),
            "perf_ratio_percent": _number(row["perf_ratio_percent"]),
            "energy_per_inference": _number(row["energy_per_inference"]),
            "energy_unit": row["energy_unit_printed"] or None,
            "gops_per_w": _number(row["gops_per_w"]),
            "memory": row["memory_printed"] or None,
        },
        "notes": row["notes"] or None,
    }
    return record


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
    output.mkdir(parents=True, exist_ok=True)
    count = 0
    for record in records:
        (output / f"{record['run_id']}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        count += 1
    return count


# -- audit ----------------------------------------------------------------------------------------


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
    published = table[table["provenance"] == "published"]
    for _, row in published.iterrows():
        values = row["published_values"] or {}
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
    for index, row in table[table["provenance"] == "published"].iterrows():
        key = (int(row["table"]), row["target"], row["model"], row["precision"], int(row["batch_size"]))
        extra = notes.get(key)
        if extra:
            table.at[index, "warnings"] = "; ".join(filter(None, [row["warnings"], *extra]))
    return table


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
    published = (table["provenance"] == "published") & (table["mode"] == "accuracy")
    rows = table[published & table["map50"].notna() & table["map50_95"].notna()]
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
