"""`make demo`: build two built-in models, benchmark them with ONNX Runtime the way a user would
(through the vedliot-runner command), check the records against the contract, say where they are."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import onnx

from vedliot_runner.zoo import resnet50, tinycnn

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "build" / "models"
RESULTS = REPO / "results" / "demo"
RUNNER = [sys.executable, "-m", "vedliot_runner"]
AGGREGATOR = [sys.executable, "-m", "vedliot_aggregator"]
# Short windows keep the demo to about a minute on 2 cores; real benchmarks use the defaults.
QUICK = ["--warmup-iterations", "5", "--warmup-seconds", "0.5", "--min-iterations", "20", "--min-seconds", "3"]


def build_models() -> dict[str, Path]:
    MODELS.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, builder in (("tinycnn", tinycnn.build), ("resnet50", resnet50.build)):
        path = MODELS / f"{name}.onnx"
        if not path.exists():
            print(f"building {path.relative_to(REPO)} ...", flush=True)
            tmp = path.with_suffix(".tmp")
            onnx.save(builder(seed=0), str(tmp))
            tmp.replace(path)
        paths[name] = path
    return paths


def show(cmd: list[str]) -> int:
    shown = [Path(c).name if c == sys.executable else c for c in cmd]
    print("\n$ " + shlex.join(shown).replace("python -m vedliot_", "vedliot-"), flush=True)
    return subprocess.run(
        cmd, env={**os.environ, "VEDLIOT_TARGET": os.environ.get("VEDLIOT_TARGET", "demo-host")}
    ).returncode


def main() -> int:
    start = time.monotonic()
    models = build_models()
    RESULTS.mkdir(parents=True, exist_ok=True)
    before = set(RESULTS.glob("*.json"))
    runs = [
        (models["tinycnn"], ["--batch-size", "1", "--mode", "latency"]),
        (models["resnet50"], ["--batch-size", "1", "--mode", "latency"]),
        (models["resnet50"], ["--batch-size", "8", "--mode", "throughput"]),
    ]
    failures = 0
    for model, args in runs:
        cmd = [*RUNNER, "run", "--model", str(model), "--backend", "onnxruntime", "--precision", "fp32", *args]
        failures += show([*cmd, *QUICK, "--output", str(RESULTS)]) != 0
    new = sorted(set(RESULTS.glob("*.json")) - before)
    failures += show([*AGGREGATOR, "validate", "--quiet", *map(str, new)]) != 0
    print(f"\n{len(new)} records in {RESULTS.relative_to(REPO)}/ ({time.monotonic() - start:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
