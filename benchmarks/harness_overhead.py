"""Harness overhead: the runner's measured latency against a bare `session.run` loop on the SAME
ONNX Runtime session and input, alternated block by block in one process so both see the same
machine state. Goal (issue 2): at most 1% at batch 1, on a sub-millisecond model and on ResNet50.

    .venv/bin/python benchmarks/harness_overhead.py [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnx

from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.onnxruntime import OnnxRuntimeBackend
from vedliot_runner.hostinfo import collect
from vedliot_runner.inputs import synthetic_inputs
from vedliot_runner.measure import LoopSettings, StopFlag, measure
from vedliot_runner.zoo import build_onnx, resnet50, tinycnn

# (name, model definition, iterations per block): blocks of roughly a second or more each.
MODELS = (("tinycnn (sub-ms)", tinycnn, 10000), ("resnet50", resnet50, 30))


def bare_loop(session, feeds, iterations: int) -> tuple[list[int], int]:
    """What a person would write by hand: time session.run and nothing else. Output names are
    passed as the backend does (None makes onnxruntime rebuild the list on every call, which
    would flatter the harness by ~0.5 us per call on a tiny model)."""
    samples = []
    clock = time.monotonic_ns
    names = [o.name for o in session.get_outputs()]
    start = clock()
    for _ in range(iterations):
        t0 = clock()
        session.run(names, feeds)
        samples.append(clock() - t0)
    return samples, clock() - start


def runner_loop(backend, feeds, iterations: int) -> tuple[list[int], int]:
    settings = LoopSettings(
        mode="latency", batch_size=1, warmup_iterations=0, warmup_seconds=0, min_iterations=iterations, min_seconds=0
    )
    m = measure(backend, feeds, settings, StopFlag())
    if m.error is not None:
        raise m.error
    return m.samples_ns, m.window_end_ns - m.window_start_ns


def bench_model(path: Path, iterations: int, rounds: int) -> dict:
    backend = OnnxRuntimeBackend(BackendSettings())
    inputs, _ = backend.load(path)
    feeds = synthetic_inputs(inputs, 1, seed=0)
    session = backend._session  # the very session the runner times
    for _ in range(max(10, iterations // 20)):
        session.run(None, feeds)
    ratios, ips_ratios, runner_medians, bare_medians = [], [], [], []
    for index in range(rounds):
        # Alternate which goes first so drift (thermal, neighbours) does not favour one side, and
        # compare each runner block with the bare block beside it: on a shared machine the
        # pairwise ratio is far steadier than a ratio of overall medians.
        blocks = {}
        order = (("runner", runner_loop, backend), ("bare", bare_loop, session))
        for name, loop, target in order if index % 2 == 0 else order[::-1]:
            samples, window = loop(target, feeds, iterations)
            blocks[name] = (statistics.median(samples) / 1e6, len(samples) / (window / 1e9))
        runner_medians.append(blocks["runner"][0])
        bare_medians.append(blocks["bare"][0])
        ratios.append(blocks["runner"][0] / blocks["bare"][0])
        ips_ratios.append(blocks["bare"][1] / blocks["runner"][1])
    return {
        "iterations_per_block": iterations,
        "rounds": rounds,
        "runner_median_ms": statistics.median(runner_medians),
        "bare_median_ms": statistics.median(bare_medians),
        "latency_overhead_pct": 100.0 * (statistics.median(ratios) - 1.0),
        "throughput_overhead_pct": 100.0 * (statistics.median(ips_ratios) - 1.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="alternated blocks per side (default 11)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply iterations per block (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    host = collect()
    results = {
        "machine": f"{host.cpu_model}, {host.cpu_cores_logical} logical cores, {platform.system()} {host.kernel}",
        "python": host.python,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, module, iterations in MODELS:
            path = Path(tmp) / "model.onnx"
            onnx.save(build_onnx(module, seed=0), str(path))
            if not args.json:
                print(f"{name}: {args.rounds} rounds x {int(iterations * args.scale)} iterations ...", file=sys.stderr)
            results["models"][name] = bench_model(path, max(1, int(iterations * args.scale)), args.rounds)
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"machine: {results['machine']}")
    print(f"{'model':<18} {'runner ms':>10} {'bare ms':>10} {'latency overhead':>17} {'IPS overhead':>13}")
    for name, r in results["models"].items():
        print(
            f"{name:<18} {r['runner_median_ms']:>10.4f} {r['bare_median_ms']:>10.4f} "
            f"{r['latency_overhead_pct']:>16.2f}% {r['throughput_overhead_pct']:>12.2f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
