"""`import benchmark_app|trtexec FILE`: other tools' results as records (provenance `imported`).

- OpenVINO benchmark_app's JSON statistics report (`-report_type no_counters -json_stats`,
  benchmark_report.json; OpenVINO >= 2023.0): sections cmd_options, configuration_setup and
  execution_results, numbers written as strings. Median, average, min and max latency (ms) and
  throughput (FPS) become the timing summary; iterations, batch and streams the configuration.
- TensorRT trtexec's `--exportTimes` JSON: one object per timed iteration (startH2dMs ... endD2hMs,
  h2dMs, computeMs, d2hMs, latencyMs; TensorRT >= 8.0 names). latencyMs (host-to-device copy +
  compute + copy back) becomes each sample, so copies are included and the record says so. The
  file carries no parameters: model, precision and batch come from the command line.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from vedliot_aggregator.schema import SCHEMA_ID, unknown_host


class ImportFailure(ValueError):
    """The file is not what the importer reads; the message names it and says what was expected."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def _skeleton(tool: str, path: Path, model: str, backend: str, precision: str, batch: int, target: str):
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return {
        "schema": SCHEMA_ID,
        # One file imported twice is one run: the id follows from its content.
        "run_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"vedliot-import:{tool}:{digest}:{model}:{precision}:{batch}")),
        "status": "ok",
        "error": None,
        "started_at": _now(),
        "finished_at": _now(),
        "provenance": {
            "kind": "imported",
            "citation": f"{tool} {path.name}",
            "imported": {"tool": tool, "file": str(path), "sha256": digest},
        },
        "target": {"name": target, "image": None, "image_digest": None, "power_mode": None},
        "host": unknown_host(),
        "software": {"runner": f"imported from {tool}", "backend": {"name": backend, "version": None}, "packages": {}},
        "model": {
            "name": model,
            "path": None,
            "sha256": None,
            "format": "other",
            "inputs": [],
            "ops_per_inference": None,
        },
        "precision": {"requested": precision, "effective": None},
        "config": {
            "batch_size": batch,
            "mode": "latency",
            "warmup_iterations": 0,
            "warmup_seconds": 0,
            "min_iterations": 1,
            "min_seconds": 0,
        },
        "timing": None,
        "memory": None,
        "power": None,
        "accuracy": None,
    }


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportFailure(f"{path}: not a readable {what} JSON file ({exc})") from None


def _float(section: dict[str, Any], key: str) -> float | None:
    value = section.get(key)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def benchmark_app(path: Path, model: str | None, precision: str, target: str | None, ops: float | None) -> dict:
    data = _load_json(path, "benchmark_app report")
    if not isinstance(data, dict) or "execution_results" not in data or "configuration_setup" not in data:
        raise ImportFailure(
            f"{path}: not a benchmark_app JSON statistics report (no execution_results/configuration_setup); "
            "write one with: benchmark_app ... -report_type no_counters -json_stats -report_folder DIR"
        )
    setup, results = data["configuration_setup"], data["execution_results"]
    if "error" in results:
        raise ImportFailure(f"{path}: benchmark_app reported an error: {results['error']}")
    median = _float(results, "latency (ms)")
    if median is None:
        median = next((_float(results, k) for k in results if k.startswith("latency (") and k.endswith("(ms)")), None)
    batch = int(_float(setup, "batch size") or 1)
    requests = int(_float(setup, "number of parallel infer requests") or 1)
    device = str(setup.get("target device") or "CPU")
    name = model or str(setup.get("topology") or path.stem)
    record = _skeleton("benchmark_app", path, name, "openvino", precision, batch, target or f"openvino-{device}")
    record["config"].update(mode="throughput" if requests > 1 else "latency", requests_in_flight=requests)
    record["config"]["backend_options"] = {
        k: str(v) for k, v in setup.items() if k.startswith("number of") and k.endswith("streams")
    } | {"device": device, "api": str(setup.get("API"))}
    iterations = int(_float(results, "total number of iterations") or 0)
    summary = {
        "median_ms": median,
        "mean_ms": _float(results, "avg latency"),
        "min_ms": _float(results, "min latency"),
        "max_ms": _float(results, "max latency"),
        "ips": _float(results, "throughput"),
        "first_inference_ms": _float(results, "first inference time (ms)"),
        "duration_ms": _float(results, "total execution time (ms)"),
    }
    if summary["mean_ms"] is None and summary["ips"] is None:
        raise ImportFailure(f"{path}: benchmark_app report has neither latency nor throughput")
    record["timing"] = {
        "clock": "monotonic_ns",
        "iterations": iterations,
        "inferences": iterations * batch,
        "requests_in_flight": requests,
        "summary": {k: v for k, v in summary.items() if v is not None},
    }
    if ops:
        record["model"]["ops_per_inference"] = {"value": ops, "source": "given"}
    return record


TRTEXEC_KEYS = ("startComputeMs", "endComputeMs", "computeMs", "latencyMs")


def trtexec(path: Path, model: str, precision: str, batch: int, target: str | None, ops: float | None) -> dict:
    data = _load_json(path, "trtexec --exportTimes")
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise ImportFailure(f"{path}: expected trtexec --exportTimes output (a JSON list, one object per iteration)")
    missing = [k for k in TRTEXEC_KEYS if k not in data[0]]
    if missing:
        hint = " (TensorRT 7 names? this importer reads TensorRT >= 8.0's)" if "endToEndMs" in data[0] else ""
        raise ImportFailure(f"{path}: iterations lack {', '.join(missing)}{hint}")
    record = _skeleton("trtexec", path, model, "tensorrt", precision, batch, target or "tensorrt")
    start = min(d.get("startH2dMs", d["startComputeMs"]) for d in data)
    end = max(d.get("endD2hMs", d["endComputeMs"]) for d in data)
    record["timing"] = {
        "clock": "monotonic_ns",
        "window_start_ns": int(start * 1e6),
        "window_end_ns": int(end * 1e6),
        "iterations": len(data),
        "inferences": len(data) * batch,
        "requests_in_flight": 1,
        "samples_ns": [int(d["latencyMs"] * 1e6) for d in data],
        "summary": {"compute_mean_ms": sum(d["computeMs"] for d in data) / len(data)},
        "includes_host_device_copies": True,
        "device_synchronized": True,
    }
    if ops:
        record["model"]["ops_per_inference"] = {"value": ops, "source": "given"}
    return record
