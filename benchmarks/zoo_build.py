"""Time `vedliot-runner zoo build` of every model and variant from scratch (issue 3 goal: under
3 minutes on a 2-core machine), and the cached second call. With --workers 1,2 each run builds once
per worker count, alternated, so the counts are compared side by side.

    .venv/bin/python benchmarks/zoo_build.py [--runs 3] [--workers 1,2] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vedliot_runner.hostinfo import collect


def one_run(directory: Path, workers: int) -> tuple[float, float]:
    command = [sys.executable, "-m", "vedliot_runner", "zoo", "build", "--output", str(directory), "--quiet",
               "--workers", str(workers)]  # fmt: skip
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    fresh = time.monotonic() - start
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return fresh, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="1", help="comma-separated worker counts (default 1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    fresh: dict[int, list[float]] = {w: [] for w in counts}
    cached: dict[int, list[float]] = {w: [] for w in counts}
    for index in range(args.runs):
        for workers in counts:
            with tempfile.TemporaryDirectory() as tmp:
                f, c = one_run(Path(tmp) / "zoo", workers)
            fresh[workers].append(f)
            cached[workers].append(c)
            if not args.json:
                print(f"run {index + 1}, {workers} workers: fresh {f:.1f} s, cached {c:.1f} s", file=sys.stderr)
    host = collect()
    result = {
        "machine": f"{host.cpu_model}, {host.cpu_cores_logical} logical cores",
        "workers": {
            w: {"fresh_s": fresh[w], "cached_s": cached[w], "fresh_median_s": statistics.median(fresh[w]),
                "cached_median_s": statistics.median(cached[w])}
            for w in counts
        },
    }  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=1))
    for w, cell in result["workers"].items():
        if not args.json:
            print(f"{w} workers: median fresh {cell['fresh_median_s']:.1f} s, cached {cell['cached_median_s']:.1f} s "
                  f"({args.runs} runs, {result['machine']})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
