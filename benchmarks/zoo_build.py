"""Time `vedliot-runner zoo build` of every model and variant from scratch (issue 3 goal: under
3 minutes on a 2-core machine), and the cached second call.

    .venv/bin/python benchmarks/zoo_build.py [--runs 3] [--json]
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


def one_run(directory: Path) -> tuple[float, float]:
    command = [sys.executable, "-m", "vedliot_runner", "zoo", "build", "--output", str(directory), "--quiet"]
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    fresh = time.monotonic() - start
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return fresh, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    fresh, cached = [], []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            f, c = one_run(Path(tmp) / "zoo")
        fresh.append(f)
        cached.append(c)
        if not args.json:
            print(f"run {index + 1}: fresh {f:.1f} s, cached {c:.1f} s", file=sys.stderr)
    host = collect()
    result = {
        "machine": f"{host.cpu_model}, {host.cpu_cores_logical} logical cores",
        "fresh_s": fresh,
        "cached_s": cached,
        "fresh_median_s": statistics.median(fresh),
        "cached_median_s": statistics.median(cached),
    }
    print(
        json.dumps(result, indent=1)
        if args.json
        else f"median: fresh {result['fresh_median_s']:.1f} s, "
        f"cached {result['cached_median_s']:.1f} s ({args.runs} runs, {result['machine']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
