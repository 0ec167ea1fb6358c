"""Vitis AI's DPU benchmarks: `xdputil benchmark` (and its predecessor `test_dpu_runner_mt`) and the
Vitis AI Library's `test_performance_<task>` console output.

The formats are Xilinx's source and real captures (tests/data/xdputil, SOURCES.md):

- xdputil benchmark: glog lines from performance_test.hpp, `thread-<i> processes <n> frames` per
  runner thread and `FPS= <fps> number_of_frames= <n> time= <s> seconds.`, then xdputil's own
  `Test PASS.` or `Test Failed!!!`. DPU-only: the host's pre- and post-processing are not run.
- test_performance_<task>: `FPS=<fps>`, and `E2E_MEAN=<us>` and `DPU_MEAN=<us>` (single-thread
  runs of Vitis AI 1.x always; 2.5+ only with one thread). End to end: pre/post-processing included.

FPS counts frames, so it is the record's inferences/s whatever the DPU's batch. The tools print
no version: give the target with --target (the catalog's board) or it is `xilinx-dpu`.
"""

from __future__ import annotations

import re
from pathlib import Path

from vedliot_aggregator.importers.common import Given, ImportFailure, failed, number, read_text, skeleton, with_imported

TOOL = "xdputil"
_NUM = r"([-+\d.eE]+)"
_BENCHMARK = re.compile(r"FPS= " + _NUM + r" number_of_frames=\s*(\d+) time= " + _NUM + " seconds")
_THREAD = re.compile(r"thread-(\d+) processes (\d+) frames")
_PERFORMANCE = {key: re.compile(rf"^\s*{key}=" + _NUM + r"\s*$", re.M) for key in ("FPS", "E2E_MEAN", "DPU_MEAN")}
_XMODEL = re.compile(r"(?:xdputil benchmark|test_dpu_runner_mt)\s+(\S+\.xmodel)")
_TEST_PERFORMANCE = re.compile(r"test_performance_(\w+)\s+(\S+)(?:\s+\S+)?(?:.*?-t\s+(\d+))?")
_THREADS_RUNNING = re.compile(r"(\d+) threads running")


def read(path: Path, given: Given) -> dict:
    text = read_text(path, "xdputil benchmark or test_performance output")
    if "performance_test.hpp" in text or "number_of_frames=" in text or "Test Failed!!!" in text:
        return _benchmark(path, text, given)
    if _PERFORMANCE["FPS"].search(text):
        return _test_performance(path, text, given)
    raise ImportFailure(
        f"{path}: neither `xdputil benchmark` output (its `FPS= ... number_of_frames=` line) nor a Vitis AI "
        "Library test_performance_* report (`FPS=`); save the whole console output, stderr included (2>&1)"
    )


def _record(path: Path, text: str, given: Given, model: str | None, frames: int, summary: dict) -> dict:
    if not model:
        raise ImportFailure(f"{path}: the output does not name the model; give --model")
    batch = given.batch or 1
    record = skeleton(TOOL, [path], given, model, "vart", batch, given.target or "xilinx-dpu")
    record["config"]["mode"] = "throughput"
    record["precision"]["effective"] = "int8"
    record["timing"] = {"clock": "monotonic_ns", "iterations": frames // batch, "inferences": frames,
                        "summary": summary}  # fmt: skip
    return record


def _benchmark(path: Path, text: str, given: Given) -> dict:
    found = _BENCHMARK.search(text)
    match = _XMODEL.search(text)
    model = given.model or (Path(match.group(1)).stem if match else None)
    threads = len(_THREAD.findall(text)) or None
    if found is None:
        if "Test Failed!!!" in text:
            record = _record(path, text, given, model, 0, {})
            return failed(record, "xdputil benchmark printed Test Failed!!!")
        raise ImportFailure(
            f"{path}: xdputil benchmark output without its `FPS= ... number_of_frames=` line (cut short?)"
        )
    fps, frames, seconds = number(found.group(1)), int(found.group(2)), number(found.group(3))
    if fps is None:
        raise ImportFailure(f"{path}: xdputil benchmark's FPS is not a number ({found.group(1)!r})")
    tool_summary = {"FPS": found.group(1), "number_of_frames": found.group(2), "time_s": found.group(3)}
    record = _record(path, text, given, model, frames, {"ips": fps})
    record["config"]["threads"] = threads
    record["config"]["min_seconds"] = seconds or 0
    notes = ["DPU only: xdputil benchmark runs no pre- or post-processing"]
    if "Test Failed!!!" in text:
        return failed(record, "xdputil benchmark printed Test Failed!!!")
    command = _XMODEL.search(text)
    return with_imported(record, command=command.group(0) if command else "xdputil benchmark",
                         tool_summary=tool_summary, warnings=notes)  # fmt: skip


def _test_performance(path: Path, text: str, given: Given) -> dict:
    summary = {key: m.group(1) for key, m in ((k, p.search(text)) for k, p in _PERFORMANCE.items()) if m}
    fps = number(summary["FPS"])
    if fps is None:
        raise ImportFailure(f"{path}: test_performance's FPS is not a number ({summary['FPS']!r})")
    command = _TEST_PERFORMANCE.search(text)
    model = given.model or (command.group(2) if command else None)
    timing = {"ips": fps}
    if number(summary.get("DPU_MEAN")) is not None:
        timing["mean_ms"] = number(summary["DPU_MEAN"]) / 1000
    record = _record(path, text, given, model, 0, timing)
    running = _THREADS_RUNNING.search(text)
    threads = command.group(3) if command and command.group(3) else (running.group(1) if running else None)
    record["config"]["threads"] = int(threads) if threads else None
    notes = ["end to end: FPS includes the host's pre- and post-processing; mean_ms is DPU_MEAN"]
    line = re.search(r"\S*test_performance_\w+[^\n]*", text)
    return with_imported(record, command=line.group(0).strip() if line else "test_performance",
                         tool_summary=summary, warnings=notes)  # fmt: skip
