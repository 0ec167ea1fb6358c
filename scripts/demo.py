"""`make demo`: build the model zoo's ONNX files (cached), benchmark the report's three models with
ONNX Runtime the way a user would (through the vedliot-runner command), check the records against
the contract, and say where they are."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "build" / "zoo"
RESULTS = REPO / "results" / "demo"
RUNNER = [sys.executable, "-m", "vedliot_runner"]
AGGREGATOR = [sys.executable, "-m", "vedliot_aggregator"]
SEED_MODELS = ("resnet50", "mobilenetv3_small", "yolov4")
# Short windows keep the demo to a few minutes on 2 cores; real benchmarks use the defaults.
QUICK = ["--warmup-iterations", "3", "--warmup-seconds", "0.5", "--min-iterations", "10", "--min-seconds", "3"]


def show(cmd: list[str]) -> int:
    shown = shlex.join(cmd).replace(f"{sys.executable} -m vedliot_", "vedliot-").replace(str(REPO) + "/", "")
    print("\n$ " + shown, flush=True)
    env = {**os.environ, "VEDLIOT_TARGET": os.environ.get("VEDLIOT_TARGET", "demo-host")}
    return subprocess.run(cmd, env=env).returncode


def main() -> int:
    start = time.monotonic()
    failures = 0
    zoo = [*RUNNER, "zoo", "build", "--output", str(ZOO), "--models", ",".join(SEED_MODELS), "--formats", "onnx"]
    if show(zoo) != 0:
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    before = set(RESULTS.glob("*.json"))
    for model in SEED_MODELS:
        for precision in ("fp32", "int8"):
            cmd = [*RUNNER, "run", "--model", f"zoo:{model}", "--zoo", str(ZOO), "--backend", "onnxruntime"]
            cmd += ["--precision", precision, "--batch-size", "1", "--mode", "latency", *QUICK]
            failures += show([*cmd, "--output", str(RESULTS)]) != 0
    new = sorted(set(RESULTS.glob("*.json")) - before)
    failures += show([*AGGREGATOR, "validate", "--quiet", *map(str, new)]) != 0
    print(f"\n{len(new)} records in {RESULTS.relative_to(REPO)}/ ({time.monotonic() - start:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
