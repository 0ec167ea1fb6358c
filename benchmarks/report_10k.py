"""Time `vedliot-aggregator report` over generated records plus the published D3.3 reference,
charts as the default writes them (SVG files), at one or more sizes (issue 19 goals: 10,000 records in at most
5 s, 100,000 in at most 60 s and 4 GB, time per record flat from 1,000 to 100,000).

    .venv/bin/python benchmarks/report_10k.py [--records 1000,10000,100000] [--runs 3]
        [--baseline-src DIR] [--json]

Each size starts with empty caches (the "cold" run: every file read and every chart drawn),
then repeats the same report (rows of unchanged files from the row cache, charts copied from the
chart cache), then repeats it with --no-cache (every file read again, charts still cached), then
adds a tenth more records and reports once more (new files read, charts drawn anew); the
medians and the peak memory of the report process (its largest resident set, from wait4) are
printed per size. --baseline-src times another checkout's report (e.g. a `git worktree` of an
older commit) on the same records in the same run, alternated with this one's repeated runs.

The records are variations of one real record (a tinycnn ONNX Runtime run made here): 8 targets x
4 models x 3 precisions x 2 batches, repeated; each with 200 iteration samples and power readings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from vedliot_runner.hostinfo import collect

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["x86-onnxruntime", "x86-openvino", "x86-tvm", "jetson", "hailo", "coral", "vitis-ai", "cuda"]
MODELS = {"resnet50": 7.78e9, "mobilenetv3_small": 0.178e9, "yolov4": 60.4e9, "mobilenetv2": 0.6e9}


def template(directory: Path) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    import models

    path = models.tiny(directory / "tiny.onnx")
    out = directory / "template"
    command = [sys.executable, "-m", "vedliot_runner", "run", "--model", str(path), "--backend", "onnxruntime",
               "--quiet", "--min-iterations", "5", "--min-seconds", "0", "--warmup-seconds", "0", "--output",
               str(out)]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(next(out.glob("*.json")).read_text())


def generate(base: dict, count: int, directory: Path, start: int = 0) -> None:
    rng = np.random.default_rng(start)
    directory.mkdir(parents=True, exist_ok=start > 0)
    for i in range(start, start + count):
        record = json.loads(json.dumps(base))
        model = list(MODELS)[i % 4]
        record["run_id"] = str(uuid.UUID(int=rng.integers(0, 2**63) << 64 | i))
        record["target"]["name"] = TARGETS[(i // 4) % len(TARGETS)]
        record["model"]["name"] = model
        record["model"]["ops_per_inference"] = {"value": MODELS[model], "source": "given"}
        record["precision"]["requested"] = ("fp32", "fp16", "int8")[(i // 32) % 3]
        record["config"]["batch_size"] = (1, 8)[(i // 96) % 2]
        mean = rng.uniform(0.5, 50) * 1e6
        samples = rng.normal(mean, mean * 0.03, 200).clip(1).astype(int).tolist()
        timing = record["timing"]
        timing["samples_ns"] = samples
        timing["iterations"] = len(samples)
        timing["inferences"] = len(samples) * record["config"]["batch_size"]
        timing["window_end_ns"] = timing["window_start_ns"] + sum(samples)
        t = np.linspace(timing["window_start_ns"] - 1e9, timing["window_end_ns"] + 1e8, 60).astype(int).tolist()
        watts = rng.uniform(3, 300)
        record["power"] = {
            "source": "rapl", "kind": "power", "unit": "W", "averaging": "instant", "interval_ms": 100,
            "rails": ["package"], "summed": ["package"], "samples": {"t_ns": t, "values": {"package": [watts] * 60}},
            "idle": {"start_ns": t[0], "end_ns": t[5], "start_unix_ns": 0}, "errors": [], "validity": {"samples": 60},
        }  # fmt: skip
        (directory / f"{record['run_id']}.json").write_text(json.dumps(record))


def make(count: int, directory: Path) -> Path:
    """Generate `count` records under directory/records (for profiling)."""
    records = directory / "records"
    generate(template(directory), count, records)
    return records


def timed_report(records: Path, output: Path, cache: Path, *flags: str, src: Path | None = None) -> tuple[float, float]:
    """(seconds, peak resident set of the report process in MB) of one `report` run."""
    command = [sys.executable, "-m", "vedliot_aggregator", "report", str(records), "--output", str(output), "--quiet",
               *flags]  # fmt: skip
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    if src is not None:  # another checkout's aggregator and runner, ahead of the installed ones
        env["PYTHONPATH"] = f"{src / 'aggregator' / 'src'}{os.pathsep}{src / 'runner' / 'src'}"
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"report_10k: the report over {records} failed")
    return elapsed, usage.ru_maxrss / 1024


def one_size(base: dict, count: int, runs: int, tmp: Path, baseline: Path | None) -> dict:
    records, cache = tmp / f"records-{count}", tmp / f"cache-{count}"
    generate(base, count, records)
    time.sleep(2.5)  # past the row cache's settling time (row_cache.SETTLE_NS), as records on a disk are
    cold, cold_mb = timed_report(records, tmp / f"report-{count}-cold", cache)
    warm, uncached, old = [], [], []
    if baseline is not None:  # its own chart cache filled first: its repeated runs are compared
        timed_report(records, tmp / f"report-{count}-old-cold", tmp / f"cache-old-{count}", src=baseline)
    for run in range(runs):  # alternated, so that a slow spell of this shared VM hits all alike
        warm.append(timed_report(records, tmp / f"report-{count}-{run}", cache))
        uncached.append(timed_report(records, tmp / f"report-{count}-{run}-nc", cache, "--no-cache"))
        if baseline is not None:
            old.append(
                timed_report(records, tmp / f"report-{count}-{run}-old", tmp / f"cache-old-{count}", src=baseline)
            )
    # Results grow: a tenth more records arrive, and the report is made again (the new files read,
    # the rest from the row cache, the charts drawn anew since their data changed).
    generate(base, max(1, count // 10), records, start=count)
    time.sleep(2.5)
    grown, grown_mb = timed_report(records, tmp / f"report-{count}-grown", cache)
    shutil.rmtree(records)
    median = statistics.median(t for t, _ in warm)
    result = {"records": count, "cold_s": round(cold, 2), "warm_runs_s": [round(t, 2) for t, _ in warm],
              "median_s": round(median, 2), "ms_per_record": round(median / count * 1e3, 3),
              "no_cache_runs_s": [round(t, 2) for t, _ in uncached],
              "no_cache_median_s": round(statistics.median(t for t, _ in uncached), 2),
              "grown_s": round(grown, 2),
              "peak_mb": round(max([cold_mb, grown_mb, *(mb for _, mb in warm + uncached)]))}  # fmt: skip
    if old:
        result["baseline_runs_s"] = [round(t, 2) for t, _ in old]
        result["baseline_median_s"] = round(statistics.median(t for t, _ in old), 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="10000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=3, help="repeated (warm) runs per size")
    parser.add_argument("--baseline-src", type=Path, help="another checkout to time on the same records")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.records.split(",")]
    host = collect()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = template(Path(tmp))
        for count in sizes:
            results.append(one_size(base, count, args.runs, Path(tmp), args.baseline_src))
            if not args.json:
                r = results[-1]
                print(f"{r['records']:>7} records + the D3.3 reference: cold {r['cold_s']} s; repeated: median "
                      f"{r['median_s']} s of {r['warm_runs_s']} ({r['ms_per_record']} ms per record); --no-cache: "
                      f"median {r['no_cache_median_s']} s of {r['no_cache_runs_s']}; a tenth more records: "
                      f"{r['grown_s']} s; peak {r['peak_mb']} MB"
                      + (f"; baseline: median {r['baseline_median_s']} s of {r['baseline_runs_s']}"
                         if "baseline_runs_s" in r else ""), flush=True)  # fmt: skip
    if args.json:
        print(json.dumps({"sizes": results, "cpu": host.cpu_model, "cores": host.cpu_cores_logical}))
    else:
        print(f"on {host.cpu_model}, {host.cpu_cores_logical} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
