"""TVM's speed against tuning time (issue 19): IPS of the x86 TVM target after 0, 5, 10, ... minutes
of meta-schedule tuning, beside ONNX Runtime fp32 on the same model, measured alternately.

Each step is what a user does: `vedliot-runner run --backend tvm --backend-option tune=SECONDS`
with the step's total, which tunes the cached database for what the previous steps did not spend
(the cost of restarting the tuner each step is counted), then measures. After each step, --rounds
rounds of TVM (its compiled module from the cache) and ONNX Runtime alternate; each cell is the
median of its rounds. The database starts empty (its own cache folder, removed first).

    .venv/bin/python benchmarks/tvm_tuning_curve.py --model resnet50 --minutes 10,20,40,60 [--json]

--resume keeps the database an earlier (stopped) run left and runs only the steps given: with
--minutes 60 after a run stopped at 40, the tuner spends the 20 minutes missing, as a user's next
`tune=3600` would.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def run(zoo: Path, model: str, backend: str, output: Path, options: list[str], seconds: float) -> dict:
    loop = ["--min-iterations", "3", "--min-seconds", str(seconds)]
    command = [sys.executable, "-m", "vedliot_runner", "run", "--model", f"zoo:{model}", "--zoo", str(zoo),
               "--backend", backend, "--precision", "fp32", "--output", str(output), "--json", *loop]  # fmt: skip
    for option in options:
        command += ["--backend-option", option]
    proc = subprocess.run(command, capture_output=True, text=True)
    summary = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {"status": "failed"}
    if summary.get("status") != "ok":
        return {"status": "failed", "error": summary.get("error") or proc.stderr.strip()[-300:]}
    record = json.loads(Path(summary["record"]).read_text())
    return {"status": "ok", "ips": summary["inferences_per_s"], "options": record["config"]["backend_options"]}


def step(args: argparse.Namespace, minutes: float, cache: Path, output: Path) -> dict:
    tvm_options = [f"tune={minutes * 60:g}", f"cache_dir={cache}"] if minutes else [f"cache_dir={cache}"]
    started = time.monotonic()
    first = run(args.zoo, args.model, "tvm", output, tvm_options, args.seconds)
    wall = time.monotonic() - started
    tvm, ort = [first], []
    for _ in range(args.rounds):
        ort.append(run(args.zoo, args.model, "onnxruntime", output, [], args.seconds))
        if len(tvm) < args.rounds:
            tvm.append(run(args.zoo, args.model, "tvm", output, tvm_options, args.seconds))
    ok_tvm = [r["ips"] for r in tvm if r["status"] == "ok"]
    ok_ort = [r["ips"] for r in ort if r["status"] == "ok"]
    options = first.get("options") or {}
    row = {"minutes": minutes, "step_wall_s": round(wall, 1), "tuned_trials": options.get("tuned_trials", 0),
           "tuned_seconds": options.get("tuned_seconds", 0.0), "tvm_ips": ok_tvm, "ort_ips": ok_ort,
           "errors": [r["error"] for r in tvm + ort if r["status"] != "ok"]}  # fmt: skip
    if ok_tvm and ok_ort:
        row["tvm_median"], row["ort_median"] = statistics.median(ok_tvm), statistics.median(ok_ort)
        row["tvm_over_ort"] = row["tvm_median"] / row["ort_median"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("build/zoo"))
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--minutes", default="10,20,40,60", help="cumulative tuning minutes per step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="timed window of each run")
    parser.add_argument("--resume", action="store_true", help="keep the database of an earlier run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cache = Path("build") / "tvm-curve" / args.model
    if not args.resume:
        shutil.rmtree(cache, ignore_errors=True)
    output = Path("build") / "bench-records"
    rows = []
    for minutes in ([] if args.resume else [0.0]) + [float(m) for m in args.minutes.split(",")]:
        rows.append(step(args, minutes, cache, output))
        if not args.json:
            r = rows[-1]
            print(f"{args.model} {minutes:5.1f} min: trials {r['tuned_trials']:5d}  TVM {r.get('tvm_median', 0):8.2f} "
                  f"IPS  ORT {r.get('ort_median', 0):8.2f} IPS  TVM/ORT {r.get('tvm_over_ort', 0):.3f}  "
                  f"(step {r['step_wall_s']:.0f} s) {' '.join(r['errors'])[:200]}", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"model": args.model, "steps": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
