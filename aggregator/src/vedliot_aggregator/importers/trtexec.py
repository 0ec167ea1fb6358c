"""TensorRT trtexec: its `--exportTimes` trace, its console log, or both.

- The trace is a JSON list, one object per query: startH2dMs ... endD2hMs, h2dMs, computeMs,
  d2hMs, latencyMs (8.0 and later; 7.x named the copies startInMs/endOutMs, read from the source:
  no licensed 7.x trace is public). latencyMs (copy in,
  compute, copy out) becomes each sample. Its times count from the start of inference; until
  TensorRT 8.5.1 the trace also holds the warm-up queries, which trtexec itself leaves out of its
  summary: those before `--warmUp` (200 ms by default) are dropped here the same way.
- Throughput is trtexec's: queries x batch over the host walltime, from the first timed query's
  copy in to the last query's copy out. Iterations overlap (copies of one with compute of the
  next), so batch / mean latency would understate it.
- The console log (`trtexec ... | tee log`) gives the version, the command, the batch and the
  tool's own summary; alone it becomes a record with that summary and no samples.
- `--exportProfile`, `--exportLayerInfo` and `--exportOutput` files are refused with what to use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vedliot_aggregator.importers.common import Given, ImportFailure, failed, number, read_text, skeleton, with_imported
from vedliot_runner import trtexec_output

TOOL = "trtexec"
NOT_TIMES = (
    "{path}: this is trtexec's {what}, not a timing trace; import the file written by --exportTimes=FILE "
    "(or the console log of the run: trtexec ... 2>&1 | tee trtexec.log)"
)


def _kind_of_json(data: Any) -> str | None:
    """What another trtexec export is, by its shape (None: a trace, or unknown)."""
    if isinstance(data, dict) and "Layers" in data:
        return "--exportLayerInfo (the engine's layers)"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        if "count" in data[0] and len(data[0]) == 1:
            return "--exportProfile (per-layer times of a --dumpProfile run, distorted by profiling)"
        if "values" in data[0] and "dimensions" in data[0]:
            return "--exportOutput (the output tensors)"
    return None


def read(path: Path, log_path: Path | None, given: Given, warmup_ms: float | None) -> dict:
    text = read_text(path, "trtexec output")
    if text.lstrip()[:1] not in ("[", "{"):
        if log_path is not None:
            raise ImportFailure(f"{path}: not a JSON trace; give the --exportTimes file first and --log {log_path}")
        if not trtexec_output.looks_like_log(text):
            raise ImportFailure(f"{path}: neither a trtexec --exportTimes JSON file nor a trtexec console log")
        return _from_log(path, trtexec_output.parse(text), given)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ImportFailure(f"{path}: not a readable JSON file ({str(exc)[:120]})") from None
    if what := _kind_of_json(data):
        raise ImportFailure(NOT_TIMES.format(path=path, what=what))
    log = trtexec_output.parse(read_text(log_path, "a trtexec console log")) if log_path else None
    return _from_trace(path, log_path, data, log, given, warmup_ms)


def _from_trace(path, log_path, data, log, given, warmup_ms) -> dict:
    if warmup_ms is None and log is not None:
        warmup_ms = log.warmup_ms
    try:
        trace = trtexec_output.read_trace(data, warmup_ms)
    except trtexec_output.TraceError as exc:
        raise ImportFailure(f"{path}: {exc}") from None
    batch, model = _batch_and_model(path, log, given)
    paths = [path, log_path] if log_path else [path]
    record = skeleton(TOOL, paths, given, model, "tensorrt", batch, given.target or "tensorrt")
    record["timing"] = {
        "clock": "monotonic_ns",
        "window_start_ns": round(trace.start_ms * 1e6),
        "window_end_ns": round(trace.end_ms * 1e6),
        "iterations": len(trace.latency_ms),
        "inferences": len(trace.latency_ms) * batch,
        "requests_in_flight": 1,
        "warmup_iterations": trace.dropped,
        "samples_ns": [round(ms * 1e6) for ms in trace.latency_ms],
        "summary": {"compute_mean_ms": sum(trace.compute_ms) / len(trace.compute_ms)},
        "includes_host_device_copies": trace.copies,
        "device_synchronized": True,
    }
    notes = []
    if trace.dropped:
        warmup = trtexec_output.DEFAULT_WARMUP_MS if warmup_ms is None else warmup_ms
        notes.append(
            f"{trace.dropped} warm-up queries dropped: the trace starts before the {warmup:g} ms warm-up "
            "(TensorRT before 8.5 writes them)"
        )
    return _finish(record, log, notes)


def _batch_and_model(path: Path, log, given: Given) -> tuple[int, str]:
    batch = given.batch or (log.batch if log and log.batch else 1)
    model = given.model or (Path(log.model).stem if log and log.model else None)
    if not model:
        raise ImportFailure(f"{path}: the file does not name the model; give --model (or --log with the console log)")
    return batch, model


def _from_log(path: Path, log, given: Given) -> dict:
    batch, model = _batch_and_model(path, log, given)
    record = skeleton(TOOL, [path], given, model, "tensorrt", batch, given.target or "tensorrt")
    if log.status == "FAILED" or not log.has_summary:
        reason = log.errors[-1] if log.errors else "no performance summary in the log"
        if log.status != "FAILED" and not log.errors:
            raise ImportFailure(f"{path}: the log has no performance summary (a --dumpProfile or build-only run?)")
        return _finish(failed(record, f"trtexec: {reason}"), log, [])
    latency = log.stats.get("latency", {})
    summary = {f"{k}_ms": number(v) for k, v in latency.items()}
    summary["compute_mean_ms"] = number(log.stats.get("gpu_compute", {}).get("mean"))
    timing: dict[str, Any] = {"clock": "monotonic_ns", "iterations": log.queries or 0,
                              "inferences": (log.queries or 0) * batch, "requests_in_flight": 1,
                              "includes_host_device_copies": _copies(log), "device_synchronized": True}  # fmt: skip
    walltime = number(log.walltime_s)
    notes = []
    if log.queries and walltime:
        timing.update(window_start_ns=0, window_end_ns=round(walltime * 1e9))
    elif log.queries == 0:
        notes.append("trtexec counted 0 queries (TensorRT 7 with an explicit-batch engine): IPS from the mean latency")
    timing["summary"] = {k: v for k, v in summary.items() if v is not None}
    record["timing"] = timing
    return _finish(record, log, notes)


def _copies(log) -> bool | None:
    h2d, d2h = log.stats.get("h2d"), log.stats.get("d2h")
    if h2d is None or d2h is None:
        return True  # 7.x prints no copy times; its latency includes them
    return bool(number(h2d.get("max")) or number(d2h.get("max")))


def _finish(record: dict, log, notes: list[str]) -> dict:
    if log is None:
        return with_imported(record, warnings=notes or None)
    record["software"]["backend"]["version"] = log.version
    if log.precision:
        record["config"]["backend_options"] = {"precision_flags": log.precision}
    return with_imported(
        record,
        tool_version=log.version,
        command=log.command,
        tool_summary=trtexec_output.tool_summary(log) or None,
        warnings=notes or None,
    )
