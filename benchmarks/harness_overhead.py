"""Harness overhead, and what a worker process per run costs and buys.

1. In process: the runner's measurement loop (`measure()`) against a bare `session.run` loop on
   the SAME ONNX Runtime session and input, alternated block by block, at batch 1, on a
   sub-millisecond model and on ResNet50. Goal: at most 1% (issue 2).
2. What the worker adds (issue 12, goal: still at most 1%):
   a. inside its loop: the same `measure()` with the worker's reporter attached (progress and the
      samples sent down a real pipe every 250 ms, drained by a reader thread as the parent's is),
      against the bare loop, alternated block by block in one process as in 1;
   1 and 2a run ONNX Runtime on one intra-op thread: on a shared 2-core VM, a two-thread session's
   per-block median moves by several percent with whatever else runs, drowning a 1% question.
   b. end to end: a whole `vedliot-runner run` (parent, fresh worker process, supervision) against
      a bare loop in a fresh process of its own, alternated run by run, both on one thread (on this
      shared 2-core VM, two processes' thread pools otherwise differ by +-15% run to run).
   c. directly, free of the machine's noise: the reporter's cost per 250 ms tick with as many
      samples as each model yields in a tick, and the parent's CPU time while it supervises a run.
3. Suite-style, two models in one runner process (ResNet50 then tinycnn): each record's peak
   memory (the worker's own) against what the process-lifetime high-water mark said before (the
   same two runs in one process, as schema 1 measured), and the worker's start-up cost.

    .venv/bin/python benchmarks/harness_overhead.py [--rounds 11] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import onnx

from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.onnxruntime import OnnxRuntimeBackend
from vedliot_runner.hostinfo import collect, peak_rss_bytes
from vedliot_runner.inputs import synthetic_inputs
from vedliot_runner.measure import LoopSettings, Measurement, StopFlag, measure
from vedliot_runner.plan import prepare
from vedliot_runner.protocol import Channel, Reporter, iter_messages
from vedliot_runner.request import BackendRequest, ModelRequest, RunRequest
from vedliot_runner.run import execute
from vedliot_runner.supervisor import run_worker
from vedliot_runner.zoo import build_onnx, resnet50, tinycnn

# (name, model definition, iterations per block): blocks of roughly a second or more each.
MODELS = (("tinycnn (sub-ms)", tinycnn, 10000), ("resnet50", resnet50, 30))

BARE_LOOP = """
import json, sys, time
import numpy as np, onnxruntime as ort
path, iterations = sys.argv[1], int(sys.argv[2])
so = ort.SessionOptions(); so.log_severity_level = 4; so.intra_op_num_threads = 1
session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
x = session.get_inputs()[0]
feeds = {x.name: np.random.default_rng(0).standard_normal([1] + list(x.shape[1:]), dtype=np.float32)}
names = [o.name for o in session.get_outputs()]
for _ in range(max(10, iterations // 20)):
    session.run(names, feeds)
clock, samples = time.monotonic_ns, []
for _ in range(iterations):
    t0 = clock(); session.run(names, feeds); samples.append(clock() - t0)
print(json.dumps(samples))
"""


def bare_loop(session, feeds, iterations: int) -> tuple[list[int], int]:
    """What a person would write by hand: time session.run and nothing else. Output names are
    passed as the backend does (None makes onnxruntime rebuild the list on every call)."""
    samples = []
    clock = time.monotonic_ns
    names = [o.name for o in session.get_outputs()]
    start = clock()
    for _ in range(iterations):
        t0 = clock()
        session.run(names, feeds)
        samples.append(clock() - t0)
    return samples, clock() - start


def runner_loop(backend, feeds, iterations: int, progress=None) -> tuple[list[int], int]:
    settings = LoopSettings(
        mode="latency", batch_size=1, warmup_iterations=0, warmup_seconds=0, min_iterations=iterations, min_seconds=0
    )
    out = Measurement()
    m = measure(backend, feeds, settings, StopFlag(), progress, out=out)
    if m.error is not None:
        raise m.error
    return m.samples_ns, m.window_end_ns - m.window_start_ns


class PipeReporter:
    """The worker's reporter on a real pipe, drained by a thread as the parent drains it."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.channel = Channel(os.fdopen(write_fd, "wb"))
        self.reader = threading.Thread(target=lambda: list(iter_messages(os.fdopen(read_fd, "rb"))), daemon=True)
        self.reader.start()

    def loop(self, backend, feeds, iterations: int) -> tuple[list[int], int]:
        out = Measurement()
        settings = LoopSettings(
            mode="latency", batch_size=1, warmup_iterations=0, warmup_seconds=0, min_iterations=iterations,
            min_seconds=0,
        )  # fmt: skip
        m = measure(backend, feeds, settings, StopFlag(), Reporter(self.channel, out), out=out)
        return m.samples_ns, m.window_end_ns - m.window_start_ns


def alternate(path: Path, iterations: int, rounds: int, loop) -> dict:
    """`loop` (the runner's, or with the reporter) against the bare loop on one session (one
    intra-op thread: the other core takes the machine's other work, and the comparison its noise)."""
    backend = OnnxRuntimeBackend(BackendSettings(threads=1))
    inputs, _ = backend.load(path)
    feeds = synthetic_inputs(inputs, 1, seed=0)
    session = backend._session  # the very session the runner times
    for _ in range(max(10, iterations // 20)):
        session.run(None, feeds)
    ratios, ips_ratios, runner_medians, bare_medians = [], [], [], []
    for index in range(rounds):
        # Alternate which goes first so drift (thermal, neighbours) does not favour one side, and
        # compare each runner block with the bare block beside it.
        blocks = {}
        order = (("runner", loop, backend), ("bare", bare_loop, session))
        for name, run, target in order if index % 2 == 0 else order[::-1]:
            samples, window = run(target, feeds, iterations)
            blocks[name] = (statistics.median(samples) / 1e6, len(samples) / (window / 1e9))
        runner_medians.append(blocks["runner"][0])
        bare_medians.append(blocks["bare"][0])
        ratios.append(blocks["runner"][0] / blocks["bare"][0])
        ips_ratios.append(blocks["bare"][1] / blocks["runner"][1])
    return {
        "iterations_per_block": iterations,
        **_overheads(rounds, runner_medians, bare_medians, ratios),
        "throughput_overhead_pct": 100.0 * (statistics.median(ips_ratios) - 1.0),
    }


def _overheads(rounds: int, runner_medians: list, bare_medians: list, ratios: list) -> dict:
    """Medians of both sides, and the overhead: the median of the rounds' runner/bare ratios."""
    return {
        "rounds": rounds,
        "runner_median_ms": statistics.median(runner_medians),
        "bare_median_ms": statistics.median(bare_medians),
        "latency_overhead_pct": 100.0 * (statistics.median(ratios) - 1.0),
        "round_overheads_pct": [100.0 * (r - 1.0) for r in ratios],
    }


def _request(path: Path, output: Path, iterations: int, warmup: int, threads=None) -> RunRequest:
    loop = LoopSettings(
        mode="latency", batch_size=1, warmup_iterations=warmup, warmup_seconds=0, min_iterations=iterations,
        min_seconds=0,
    )  # fmt: skip
    return RunRequest(ModelRequest(path), BackendRequest("onnxruntime", threads=threads), loop, output)


def end_to_end(path: Path, iterations: int, rounds: int, output: Path) -> dict:
    """Whole `run`s (worker process) against bare loops in fresh processes, alternated, on one thread."""
    ratios, runner_medians, bare_medians, starts = [], [], [], []
    warmup = max(10, iterations // 20)
    for index in range(rounds):
        medians = {}
        for side in ("runner", "bare") if index % 2 == 0 else ("bare", "runner"):
            if side == "runner":
                record = execute(_request(path, output, iterations, warmup, threads=1)).record
                medians[side] = statistics.median(record.timing.samples_ns) / 1e6
                starts.append(record.timing.worker_start_ms)
            else:
                out = subprocess.run([sys.executable, "-c", BARE_LOOP, str(path), str(iterations)],
                                     capture_output=True, text=True, check=True)  # fmt: skip
                medians[side] = statistics.median(json.loads(out.stdout)) / 1e6
        runner_medians.append(medians["runner"])
        bare_medians.append(medians["bare"])
        ratios.append(medians["runner"] / medians["bare"])
    return {
        "iterations_per_run": iterations,
        **_overheads(rounds, runner_medians, bare_medians, ratios),
        "worker_start_ms_median": statistics.median(starts),
    }


SCHEMA1_PEAKS = """
import json, sys
from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.onnxruntime import OnnxRuntimeBackend
from vedliot_runner.hostinfo import peak_rss_bytes
from vedliot_runner.inputs import synthetic_inputs
peaks = []
for path in sys.argv[1:]:
    backend = OnnxRuntimeBackend(BackendSettings())
    inputs, _ = backend.load(path)
    feeds = synthetic_inputs(inputs, 1, seed=0)
    for _ in range(20):
        backend.predict(feeds)
    backend.close()
    peaks.append(peak_rss_bytes())
print(json.dumps(peaks))
"""


def suite_memory(paths: dict[str, Path], output: Path, repeats: int) -> dict:
    """ResNet50 then tinycnn in one runner process, each run in its worker, against the same two
    runs in one process reading the process's high-water mark (schema 1)."""
    worker = {name: [] for name in paths}
    process = {name: [] for name in paths}
    wall = []
    for _ in range(repeats):
        for name, path in paths.items():
            outcome = execute(_request(path, output, 20, 5))
            worker[name].append(outcome.record.memory.peak_rss_bytes / 1e6)
            wall.append(outcome.record.timing.worker_start_ms)
        out = subprocess.run([sys.executable, "-c", SCHEMA1_PEAKS, *map(str, paths.values())],
                             capture_output=True, text=True, check=True)  # fmt: skip
        for name, peak in zip(paths, json.loads(out.stdout), strict=True):
            process[name].append(peak / 1e6)
    return {
        "repeats": repeats,
        "worker_peak_mb": {name: statistics.median(v) for name, v in worker.items()},
        "process_high_water_mb": {name: statistics.median(v) for name, v in process.items()},
        "worker_start_ms_median": statistics.median(wall),
        "runner_parent_peak_mb": peak_rss_bytes() / 1e6,
    }


def direct_costs(paths: dict[str, Path], output: Path, rounds: int = 2000) -> dict:
    """What the worker adds, timed on its own: one reporter tick (pickling and writing the tick's
    samples and a progress line to a drained pipe), as a share of the 250 ms between ticks; and the
    parent's CPU time (user + sys) while it supervises a worker, as a share of that time."""
    out: dict = {}
    for name, path in paths.items():
        record = execute(_request(path, output, 200, 20, threads=1)).record
        per_tick = max(1, int(0.25e9 / statistics.median(record.timing.samples_ns)))
        sink = PipeReporter()
        m = Measurement(window_start_ns=0)
        reporter = Reporter(sink.channel, m)
        costs = []
        for _ in range(rounds):
            m.samples_ns.extend([100_000] * per_tick)
            t0 = time.perf_counter_ns()
            reporter("timed", 0.25, len(m.samples_ns), 10.0, 100)
            costs.append(time.perf_counter_ns() - t0)
        # The parent while it supervises a 5 s window (not its checks or the record's writing).
        loop = LoopSettings("latency", 1, 5, 0.0, 1, 5.0)
        job = dataclasses.replace(prepare(_request(path, output, 1, 5, threads=1)).job, loop=loop)
        before, started = os.times(), time.monotonic()
        run_worker(job, StopFlag())
        after, wall = os.times(), time.monotonic() - started
        parent_cpu = (after.user - before.user) + (after.system - before.system)
        out[name] = {
            "samples_per_tick": per_tick,
            "reporter_us_per_tick": statistics.median(costs) / 1e3,
            "reporter_share_pct": 100 * statistics.median(costs) / 0.25e9,
            "parent_cpu_s": parent_cpu,
            "run_wall_s": wall,
            "parent_cpu_share_pct": 100 * parent_cpu / wall,
        }
    return out


def _print(results: dict) -> None:
    print(f"machine: {results['machine']}")
    print(f"{'':<12} {'model':<18} {'runner ms':>10} {'bare ms':>10} {'latency overhead':>17}")
    for section in ("in_process", "worker_loop", "end_to_end"):
        for name, r in results[section].items():
            print(
                f"{section:<12} {name:<18} {r['runner_median_ms']:>10.4f} {r['bare_median_ms']:>10.4f} "
                f"{r['latency_overhead_pct']:>16.2f}%"
            )
    for name, c in results.get("costs", {}).items():
        print(
            f"{name}: reporter {c['reporter_us_per_tick']:.0f} us per tick of {c['samples_per_tick']} samples "
            f"({c['reporter_share_pct']:.3f}% of the window); parent CPU {c['parent_cpu_share_pct']:.2f}% of the run"
        )
    suite = results.get("suite")
    if suite:
        print(f"worker start-up (median): {suite['worker_start_ms_median']:.0f} ms")
        for name in suite["worker_peak_mb"]:
            print(
                f"peak memory of {name}: {suite['worker_peak_mb'][name]:.0f} MB in its worker; "
                f"{suite['process_high_water_mb'][name]:.0f} MB as the process high-water mark (schema 1)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="alternated blocks per side (default 11)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iterations per block (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--sections", default="loops,costs,suite", help="comma-separated: loops (1, 2a, 2b), costs (2c), suite (3)"
    )
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    host = collect()
    results: dict = {
        "machine": f"{host.cpu_model}, {host.cpu_cores_logical} logical cores, {platform.system()} {host.kernel}",
        "python": host.python,
        "in_process": {},
        "worker_loop": {},
        "end_to_end": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, module, iterations in MODELS:
            path = paths[name] = Path(tmp) / f"{module.NAME}.onnx"
            onnx.save(build_onnx(module, seed=0), str(path))
            if "loops" not in sections:
                continue
            count = max(1, int(iterations * args.scale))
            if not args.json:
                print(f"{name}: {args.rounds} rounds x {count} iterations ...", file=sys.stderr)
            results["in_process"][name] = alternate(path, count, args.rounds, runner_loop)
            results["worker_loop"][name] = alternate(path, count, args.rounds, PipeReporter().loop)
            results["end_to_end"][name] = end_to_end(path, max(count, 60), args.rounds, Path(tmp) / "records")
        if "costs" in sections:
            results["costs"] = direct_costs(paths, Path(tmp) / "costs")
        two = {"resnet50": paths["resnet50"], "tinycnn": paths["tinycnn (sub-ms)"]}
        if "suite" in sections:
            results["suite"] = suite_memory(two, Path(tmp) / "suite", max(3, args.rounds // 3))
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        _print(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
