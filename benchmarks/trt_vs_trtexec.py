"""Fidelity against NVIDIA's own trtexec: the runner's tensorrt backend and its trtexec backend
(trtexec itself, driven with the same settings) on the zoo's ResNet50 at fp16, batch 1 (latency)
and batch 8 (throughput, the same number of streams), with the same transfer setting, alternately
in one run. Goal (issue 16): the runner's inferences/s within 3% of trtexec's.

Needs an NVIDIA GPU with TensorRT, cuda-python and trtexec (the vedliot/bench-cuda image with the
host's trtexec mounted, or a TensorRT install); exits 2 with what is missing otherwise.

    python benchmarks/trt_vs_trtexec.py [--zoo build/zoo] [--rounds 3] [--seconds 10] [--transfers true] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CONFIGS = (("latency", 1), ("throughput", 8))
GOAL = 0.03


def run(backend: str, model: Path, mode: str, batch: int, seconds: int, transfers: str, output: Path) -> dict:
    command = [sys.executable, "-m", "vedliot_runner", "run", "--model", str(model), "--backend", backend,
               "--precision", "fp16", "--batch-size", str(batch), "--mode", mode, "--min-seconds", str(seconds),
               "--min-iterations", "10", "--warmup-seconds", "2", "--backend-option", f"transfers={transfers}",
               "--output", str(output), "--json"]  # fmt: skip
    if mode == "throughput":
        command += ["--backend-option", "streams=2"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{backend} {mode} batch {batch}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def ips(summary: dict) -> float:
    return float(summary["inferences_per_s"])


def missing() -> str | None:
    probe = ("from vedliot_runner import cuda_rt; import tensorrt; rt, _ = cuda_rt.import_runtime(); "
             "print(cuda_rt.Cuda(rt).device(0).name)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["no GPU"])[-1]
    from vedliot_runner.backends.base import BackendSettings
    from vedliot_runner.backends.trtexec import TrtexecBackend
    from vedliot_runner.errors import BenchError

    try:
        TrtexecBackend(BackendSettings())
    except BenchError as exc:
        return str(exc)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("build/zoo"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--transfers", choices=("true", "false"), default="true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    problem = missing()
    if problem:
        parser.exit(2, f"trt_vs_trtexec: needs an NVIDIA GPU with TensorRT and trtexec: {problem}\n")
    model = args.zoo / "resnet50" / "resnet50_fp32.onnx"
    if not model.is_file():
        parser.exit(2, f"{model}: missing; run: vedliot-runner zoo build --output {args.zoo} --models resnet50\n")
    output = Path("build") / "bench-records"
    results = {}
    for mode, batch in CONFIGS:
        ours, theirs = [], []
        for index in range(args.rounds):
            # Alternate who goes first, so slow drift (clocks, temperature) favours neither.
            order = ("tensorrt", "trtexec") if index % 2 == 0 else ("trtexec", "tensorrt")
            for backend in order:
                summary = run(backend, model, mode, batch, args.seconds, args.transfers, output)
                (ours if backend == "tensorrt" else theirs).append(ips(summary))
        ratio = statistics.median(ours) / statistics.median(theirs)
        results[f"{mode} batch {batch}"] = {"runner_ips": ours, "trtexec_ips": theirs, "ratio": ratio,
                                            "within_goal": abs(ratio - 1) <= GOAL}  # fmt: skip
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for name, result in results.items():
            print(f"{name}: runner {statistics.median(result['runner_ips']):.1f}/s, trtexec "
                  f"{statistics.median(result['trtexec_ips']):.1f}/s, ratio {result['ratio']:.3f} "
                  f"({'within' if result['within_goal'] else 'outside'} +-{GOAL:.0%})")  # fmt: skip
    return 0 if all(r["within_goal"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
