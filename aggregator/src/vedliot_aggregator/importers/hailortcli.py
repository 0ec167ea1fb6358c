"""Hailo's `hailortcli benchmark` and `hailortcli run` console output (HailoRT 4.x).

The formats are those of hailort/hailortcli's benchmark_command.cpp and infer_stats_printer.cpp
(v4.10.0 to v4.23.0) and of real captures (tests/data/hailortcli):

- benchmark's Summary: `FPS     (hw_only) = X`, `(streaming) = X`, `Latency (hw) = X ms`
  (`(overall) = X ms`), and, where power was measured, `Power in streaming mode (average) = X W`
  and `(max) = X W` (under a `Device <id>:` line since 4.6);
- run's result: `> Inference result:`, ` Network group: NAME`, `Frames count: N`, `FPS: X`,
  `Send Rate`/`Recv Rate: X Mbit/s`, and `HW Latency`/`Overall Latency: X ms` when measured.

The record's throughput is the streaming FPS, the figure with the host's transfers and format
conversions (what the runner measures too); benchmark's hw_only FPS stays in the tool's summary.
Latency is the HW latency where printed. hailortcli prints no version: give it with the record's
target, or it stays unknown. Power becomes a published-style summary (no samples).
"""

from __future__ import annotations

import re
from pathlib import Path

from vedliot_aggregator.importers.common import Given, ImportFailure, number, read_text, skeleton, with_imported

TOOL = "hailortcli"
_NUM = r"([-+\d.eE]+)"
_BENCHMARK = {
    "hw_only_fps": re.compile(r"^FPS\s+\(hw_only\)\s+= " + _NUM, re.M),
    "streaming_fps": re.compile(r"^\s+\(streaming\)\s+= " + _NUM, re.M),
    "hw_latency_ms": re.compile(r"^Latency \(hw\)\s+= " + _NUM + " ms", re.M),
    "overall_latency_ms": re.compile(r"^\s+\(overall\)\s+= " + _NUM + " ms", re.M),
    "power_average_w": re.compile(r"Power in streaming mode \(average\) = " + _NUM + " W", re.M),
    "power_max_w": re.compile(r"^\s+\(max\)\s+= " + _NUM + " W", re.M),
}
_RUN = {
    "frames": re.compile(r"^\s+Frames count: (\d+)", re.M),
    "fps": re.compile(r"^\s+FPS: " + _NUM + r"\s*$", re.M),
    "send_rate_mbit_s": re.compile(r"^\s+Send Rate: " + _NUM + " Mbit/s", re.M),
    "recv_rate_mbit_s": re.compile(r"^\s+Recv Rate: " + _NUM + " Mbit/s", re.M),
    "hw_latency_ms": re.compile(r"^\s+HW Latency: " + _NUM + " ms", re.M),
    "overall_latency_ms": re.compile(r"^\s+Overall Latency: " + _NUM + " ms", re.M),
    "power_average_w": re.compile(r"Average power consumption: " + _NUM + " W", re.M),
}
_NETWORK = re.compile(r"^(?:Network (\S+?)(?:/\S+)?: \d|\s*Network group: (\S+))", re.M)
_COMMAND = re.compile(r"hailortcli (benchmark|run)\s+(?:\S+\s+)*?(\S+\.hef)")


def _found(patterns: dict[str, re.Pattern], text: str) -> dict[str, str]:
    return {key: m.group(1) for key, m in ((k, p.search(text)) for k, p in patterns.items()) if m}


def read(path: Path, given: Given) -> dict:
    text = read_text(path, "hailortcli output")
    if "FPS     (hw_only)" in text:
        command, summary = "benchmark", _found(_BENCHMARK, text)
        ips = summary.get("streaming_fps") or summary.get("hw_only_fps")
    elif "> Inference result:" in text:
        command, summary = "run", _found(_RUN, text)
        ips = summary.get("fps")
    else:
        raise ImportFailure(f"{path}: neither `hailortcli benchmark` (its Summary) nor `hailortcli run` output")
    if ips is None or number(ips) is None:
        raise ImportFailure(f"{path}: hailortcli {command} output without an FPS figure (cut short?)")
    model = given.model or _model(text)
    if not model:
        raise ImportFailure(f"{path}: the output does not name the network; give --model")
    batch = given.batch or 1
    record = skeleton(TOOL, [path], given, model, "hailort", batch, given.target or "hailo8")
    record["config"]["mode"] = "throughput"
    latency = number(summary.get("hw_latency_ms"))
    timing_summary = {"ips": number(ips) * batch if batch else number(ips)}
    if latency is not None:
        timing_summary["mean_ms"] = latency
    frames = int(summary["frames"]) if "frames" in summary else 0
    record["timing"] = {"clock": "monotonic_ns", "iterations": frames, "inferences": frames * batch,
                        "summary": timing_summary}  # fmt: skip
    power = number(summary.get("power_average_w"))
    if power is not None:
        record["power"] = {"source": "hailortcli", "kind": "summary", "summary": {"power_w": power}}
    notes = []
    if command == "benchmark" and "streaming_fps" in summary and "hw_only_fps" in summary:
        notes.append(f"IPS is the streaming FPS ({summary['streaming_fps']}); hw_only: {summary['hw_only_fps']}")
    return with_imported(record, command=_command_line(text, command), tool_summary=summary, warnings=notes or None)


def _model(text: str) -> str | None:
    match = _NETWORK.search(text)
    if match:
        return match.group(1) or match.group(2)
    command = _COMMAND.search(text)
    return Path(command.group(2)).stem if command else None


def _command_line(text: str, command: str) -> str:
    match = re.search(r"hailortcli " + command + r"[^\n]*", text)
    return match.group(0).strip() if match else f"hailortcli {command}"
