"""`make demo`: build the model zoo's ONNX files (cached), run the quick suite of each x86 target
(ONNX Runtime, OpenVINO, TVM) on the report's three models the way a user would (through the
vedliot-runner command), then check accuracy the report's way: the trained digits model on its
held-out images through every CPU backend and precision, scored against its fp32 reference by the
aggregator. Records are checked against the contract, and the aggregator renders the comparison
report of these runs next to D3.3's published results; the script says where it is."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO / "build" / "zoo"
#: each `make demo` writes into a folder of its own below this one, so that its accuracy table and
#: report show its own runs, and the records of earlier demos stay where they were
RESULTS_ROOT = REPO / "results" / "demo"
REPORT = REPO / "results" / "demo-report"
RUNNER = [sys.executable, "-m", "vedliot_runner"]
AGGREGATOR = [sys.executable, "-m", "vedliot_aggregator"]
SEED_MODELS = ("resnet50", "mobilenetv3_small", "yolov4")
TARGETS = ("x86-onnxruntime", "x86-openvino", "x86-tvm")
# Every CPU backend at every precision it is asked for; TVM int8 answers "unsupported" (exit 3),
# which is a finding like the report's "-" cells, not a demo failure.
ACCURACY_RUNS = [(b, p) for b in ("onnxruntime", "openvino", "tvm", "litert") for p in ("fp32", "fp16", "int8")]
EXIT_UNSUPPORTED = 3


def show(cmd: list[str]) -> int:
    shown = shlex.join(cmd).replace(f"{sys.executable} -m vedliot_", "vedliot-").replace(str(REPO) + "/", "")
    print("\n$ " + shown, flush=True)
    env = {**os.environ, "VEDLIOT_TARGET": os.environ.get("VEDLIOT_TARGET", "demo-host")}
    return subprocess.run(cmd, env=env).returncode


def speed_summary(metrics_csv: Path, run_ids: set[str]) -> str:
    """This demo's latency runs: IPS per precision, int8's speed-up over fp32 and the share of the
    peak each reached (and whose peak: measured by `vedliot-runner peak`, or estimated)."""
    import pandas as pd

    table = pd.read_csv(metrics_csv)
    runs = table[table["run_id"].isin(run_ids) & (table["mode"] == "latency") & (table["status"] == "ok")]
    lines = ["", "This machine, batch 1: inferences/s, int8 over fp32, and share of the CPU's peak"]
    lines.append(f"{'model':<18} {'backend':<12} {'fp32 IPS':>9} {'int8 IPS':>9} {'int8/fp32':>9}  "
                 f"{'fp32 of peak':>12} {'int8 of peak':>12}  peak")  # fmt: skip
    for (model, backend), group in runs.groupby(["model", "backend"]):
        best = group.drop_duplicates("precision", keep="last").set_index("precision")
        ips = {p: best["ips"].get(p) for p in ("fp32", "int8")}
        ratio = {p: best["perf_ratio"].get(p) for p in ("fp32", "int8")}
        # whose peak each share is of: measured by `vedliot-runner peak`, or estimated (an int8
        # peak measured without the CPU's AMX unit is partial: the estimate counts it)
        sources = {p: best["peak_source"].get(p) for p in ("fp32", "int8")}
        source = ", ".join(f"{p} {s}" for p, s in sources.items() if isinstance(s, str))
        speedup = ips["int8"] / ips["fp32"] if ips["int8"] and ips["fp32"] else None

        def cell(value, pattern):
            return pattern.format(value) if value is not None and value == value else "-"

        lines.append(f"{model:<18} {backend:<12} {cell(ips['fp32'], '{:.1f}'):>9} {cell(ips['int8'], '{:.1f}'):>9} "
                     f"{cell(speedup, '{:.2f}x'):>9}  {cell(ratio['fp32'], '{:.1%}'):>12} "
                     f"{cell(ratio['int8'], '{:.1%}'):>12}  {source or '-'}")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    start = time.monotonic()
    failures = 0
    results = RESULTS_ROOT / time.strftime("%Y%m%d-%H%M%S")
    zoo = [*RUNNER, "zoo", "build", "--output", str(ZOO), "--models", ",".join(SEED_MODELS), "--formats", "onnx"]
    if show(zoo) != 0:
        return 1
    results.mkdir(parents=True, exist_ok=True)
    # --quick: batch 1 only and short windows, a few minutes on 2 cores; drop it for real numbers.
    for target in TARGETS:
        failures += show([*RUNNER, "suite", "--target", target, "--quick", "--zoo", str(ZOO), "--output", str(results)])

    digits = [*RUNNER, "zoo", "build", "--output", str(ZOO), "--models", "digits", "--formats", "onnx,tflite"]
    if show(digits) != 0:
        return 1
    dataset = "imagenet:" + str(ZOO / "digits" / "val")
    for backend, precision in ACCURACY_RUNS:
        run = [*RUNNER, "run", "--model", "zoo:digits", "--zoo", str(ZOO), "--backend", backend]
        run += ["--precision", precision, "--dataset", dataset, "--batch-size", "8", "--output", str(results)]
        failures += show([*run, "--quiet"]) not in (0, EXIT_UNSUPPORTED)
    # The CPU's own peak, measured: the performance ratio of every run above is taken against it.
    failures += show([*RUNNER, "peak", "--seconds", "0.5", "--output", str(results)]) != 0
    new = sorted(results.glob("*.json"))
    failures += show([*AGGREGATOR, "validate", "--quiet", str(results)]) != 0
    failures += show([*AGGREGATOR, "accuracy", str(results)]) != 0
    # The report compares this machine's runs with the report's 19 published platforms.
    failures += show([*AGGREGATOR, "report", str(results), "--output", str(REPORT)]) != 0
    if (REPORT / "metrics.csv").exists():
        print(speed_summary(REPORT / "metrics.csv", {path.stem for path in new}))
    print(f"\n{len(new)} records in {results.relative_to(REPO)}/ ({time.monotonic() - start:.0f} s)")
    print(f"report: {REPORT / 'index.html'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
