"""Fidelity against OpenVINO's own benchmark_app (shipped in the openvino wheel): the runner and
benchmark_app on the same ResNet50 file, same precision hint and mode, alternately in one run.
Goal (issue 4): the runner's inferences/s within 5% of benchmark_app's, at latency batch 1 and
throughput batch 8.

    .venv/bin/python benchmarks/vs_benchmark_app.py [--zoo build/zoo] [--rounds 3] [--seconds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

CONFIGS = (("latency", 1), ("throughput", 8))


def benchmark_app(model: Path, mode: str, batch: int, seconds: int) -> float:
    exe = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    command = [exe, "-m", str(model), "-d", "CPU", "-hint", mode, "-shape", f"input[{batch},3,224,224]",
               "-infer_precision", "f32", "-t", str(seconds)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Throughput:\s+([\d.]+) FPS", out)
    if not match:
        raise RuntimeError("benchmark_app printed no throughput:\n" + out[-2000:])
    return float(match.group(1))


def runner(model: Path, mode: str, batch: int, seconds: int, output: Path) -> dict:
    command = [sys.executable, "-m", "vedliot_runner", "run", "--model", str(model), "--backend", "openvino",
               "--precision", "fp32", "--batch-size", str(batch), "--mode", mode, "--min-seconds", str(seconds),
               "--min-iterations", "1", "--output", str(output), "--json"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("build/zoo"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = args.zoo / "resnet50" / "resnet50_fp32.onnx"
    if not model.is_file():
        parser.exit(2, f"{model}: missing; run: vedliot-runner zoo build --output {args.zoo} --models resnet50\n")
    output = Path("build") / "bench-records"
    results = {}
    for mode, batch in CONFIGS:
        ours, theirs, effective = [], [], set()
        for index in range(args.rounds):
            # Alternate who goes first, so slow drift does not favour one side.
            order = ("runner", "app") if index % 2 == 0 else ("app", "runner")
            for who in order:
                if who == "app":
                    theirs.append(benchmark_app(model, mode, batch, args.seconds))
                else:
                    summary = runner(model, mode, batch, args.seconds, output)
                    ours.append(summary["inferences_per_s"])
                    effective.add(summary["precision_effective"])
            if not args.json:
                print(f"{mode} b{batch} round {index + 1}: runner {ours[-1]:.2f}, benchmark_app {theirs[-1]:.2f}",
                      file=sys.stderr)  # fmt: skip
        results[f"{mode}_b{batch}"] = {
            "runner_ips": ours,
            "benchmark_app_ips": theirs,
            "runner_median": statistics.median(ours),
            "benchmark_app_median": statistics.median(theirs),
            "difference_pct": 100 * (statistics.median(ours) / statistics.median(theirs) - 1),
            "effective_precision": sorted(effective),
        }
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for key, r in results.items():
            print(f"{key}: runner {r['runner_median']:.2f} IPS, benchmark_app {r['benchmark_app_median']:.2f} IPS, "
                  f"{r['difference_pct']:+.1f}% (effective {', '.join(r['effective_precision'])})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
