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

from vedliot_aggregator.importers import trtexec_log
from vedliot_aggregator.importers.common import Given, ImportFailure, failed, number, read_text, skeleton, with_imported

TOOL = "trtexec"
DEFAULT_WARMUP_MS = 200.0  # trtexec's --warmUp default, every version
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
        if not trtexec_log.looks_like_log(text):
            raise ImportFailure(f"{path}: neither a trtexec --exportTimes JSON file nor a trtexec console log")
        return _from_log(path, trtexec_log.parse(text), given)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ImportFailure(f"{path}: not a readable JSON file ({str(exc)[:120]})") from None
    if what := _kind_of_json(data):
        raise ImportFailure(NOT_TIMES.format(path=path, what=what))
    log = trtexec_log.parse(read_text(log_path, "a trtexec console log")) if log_path else None
    return _from_trace(path, log_path, data, log, given, warmup_ms)


def _trace_keys(path: Path, data: Any) -> tuple[str, str]:
    """The keys of the first copy-in start and last copy-out end in this version's trace."""
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise ImportFailure(f"{path}: expected trtexec --exportTimes output (a JSON list, one object per query)")
    first = data[0]
    # 7.1/7.2 wrote the copy-in times under startEnqMs and the enqueue times under startInMs (a
    # swap in their source); 7.0 had no enqueue times.
    swapped = "startH2dMs" not in first and "startEnqMs" in first and "startInMs" in first
    start = (
        "startEnqMs"
        if swapped
        else next((k for k in ("startH2dMs", "startInMs", "startComputeMs") if k in first), None)
    )
    end = next((k for k in ("endD2hMs", "endOutMs", "endComputeMs") if k in first), None)
    missing = [k for k in ("startComputeMs", "computeMs", "latencyMs") if k not in first]
    if missing or start is None or end is None:
        raise ImportFailure(
            f"{path}: queries lack {', '.join(missing) or 'start/end times'}; not an --exportTimes file"
        )
    bad = next(
        (i for i, d in enumerate(data) if any(number(d.get(k)) is None for k in (start, end, "latencyMs"))), None
    )
    if bad is not None:
        raise ImportFailure(f"{path}: query {bad} has no numeric {start}/{end}/latencyMs")
    return start, end


def _from_trace(path, log_path, data, log, given, warmup_ms) -> dict:
    start_key, end_key = _trace_keys(path, data)
    warmup = warmup_ms if warmup_ms is not None else (log.warmup_ms if log and log.warmup_ms is not None else None)
    warmup = DEFAULT_WARMUP_MS if warmup is None else warmup
    timed = [d for d in data if d["startComputeMs"] >= warmup]
    dropped = len(data) - len(timed)
    if not timed:
        raise ImportFailure(f"{path}: every query starts before the {warmup:g} ms warm-up; give trtexec's --warmUp")
    batch, model = _batch_and_model(path, log, given)
    paths = [path, log_path] if log_path else [path]
    record = skeleton(TOOL, paths, given, model, "tensorrt", batch, given.target or "tensorrt")
    copies = any(number(d.get("h2dMs")) or number(d.get("d2hMs")) for d in timed)
    record["timing"] = {
        "clock": "monotonic_ns",
        "window_start_ns": round(timed[0][start_key] * 1e6),
        "window_end_ns": round(timed[-1][end_key] * 1e6),
        "iterations": len(timed),
        "inferences": len(timed) * batch,
        "requests_in_flight": 1,
        "warmup_iterations": dropped,
        "samples_ns": [round(d["latencyMs"] * 1e6) for d in timed],
        "summary": {"compute_mean_ms": sum(d["computeMs"] for d in timed) / len(timed)},
        "includes_host_device_copies": bool(copies),
        "device_synchronized": True,
    }
    notes = []
    if dropped:
        notes.append(
            f"{dropped} warm-up queries dropped: the trace starts before the {warmup:g} ms warm-up "
            "(TensorRT before 8.5.1 writes them)"
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
        record, tool_version=log.version, command=log.command, tool_summary=_tool_summary(log), warnings=notes or None
    )


def _tool_summary(log) -> dict[str, str] | None:
    latency = log.stats.get("latency", {})
    summary = {f"{k}_ms": v for k, v in latency.items()}
    if log.throughput_qps is not None:
        summary["qps"] = log.throughput_qps
    if log.walltime_s is not None:
        summary["walltime_s"] = log.walltime_s
    if log.queries:
        summary["queries"] = str(log.queries)
    return summary or None
