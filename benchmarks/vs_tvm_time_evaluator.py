"""Fidelity against TVM's own time_evaluator: the runner's measured median latency and TVM's
`vm.time_evaluator("main", ...)` on the same compiled module and inputs, alternated in one
process. Goal (issue 4): within 5%. The runner's call includes the host->device input copy and
the output copy to numpy (what every backend's predict() includes); time_evaluator does not.

    .venv/bin/python benchmarks/vs_tvm_time_evaluator.py [--zoo build/zoo] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from vedliot_runner.backends.base import BackendSettings
from vedliot_runner.backends.tvm import TvmBackend
from vedliot_runner.inputs import synthetic_inputs
from vedliot_runner.measure import LoopSettings, StopFlag, measure

# (model, iterations per block): untuned TVM takes ~30 ms for MobileNetV3-Small, ~4 s for ResNet50.
MODELS = (("mobilenetv3_small", 30), ("resnet50", 3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("build/zoo"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for name, iterations in MODELS:
        backend = TvmBackend(BackendSettings())
        inputs, _ = backend.load(args.zoo / name / f"{name}_fp32.onnx")
        feeds = synthetic_inputs(inputs, 1, seed=0)
        tvm = backend._tvm
        vm_args = [tvm.runtime.tensor(feeds[n], backend._dev) for n in backend._input_names]
        evaluator = backend._vm.time_evaluator("main", backend._dev, number=1, repeat=iterations)
        settings = LoopSettings(mode="latency", batch_size=1, warmup_iterations=1, warmup_seconds=0,
                                min_iterations=iterations, min_seconds=0)  # fmt: skip
        ratios, ours, theirs = [], [], []
        for index in range(args.rounds):
            blocks = {}
            for who in ("runner", "tvm") if index % 2 == 0 else ("tvm", "runner"):
                if who == "runner":
                    m = measure(backend, feeds, settings, StopFlag())
                    blocks[who] = statistics.median(m.samples_ns) / 1e6
                else:
                    blocks[who] = statistics.median(evaluator(*vm_args).results) * 1e3
            ours.append(blocks["runner"])
            theirs.append(blocks["tvm"])
            ratios.append(blocks["runner"] / blocks["tvm"])
            if not args.json:
                print(f"{name} round {index + 1}: runner {ours[-1]:.3f} ms, time_evaluator {theirs[-1]:.3f} ms",
                      file=sys.stderr)  # fmt: skip
        results[name] = {
            "runner_median_ms": statistics.median(ours),
            "time_evaluator_median_ms": statistics.median(theirs),
            "difference_pct": 100 * (statistics.median(ratios) - 1),
            "iterations_per_block": iterations,
            "rounds": args.rounds,
        }
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for name, r in results.items():
            print(f"{name}: runner {r['runner_median_ms']:.3f} ms, time_evaluator {r['time_evaluator_median_ms']:.3f} "
                  f"ms, {r['difference_pct']:+.2f}%")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
