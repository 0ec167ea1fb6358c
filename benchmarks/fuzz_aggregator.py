"""Reliability of the aggregator on hostile input (issue 14): batches of mutated records
(tests/fuzz.py: types, deletions, duplicates, huge arrays, deep nesting, out-of-range numbers,
markup and formulas, truncated, empty and non-UTF-8 files, symlink loops) beside real ones, through
every command. Counts: files tried, valid and invalid, crashes (a Python exception out of a
command: goal 0), records lost (a valid record missing from the report: goal 0), invalid files
not listed as skipped (goal 0).

    .venv/bin/python benchmarks/fuzz_aggregator.py [--batches 10] [--count 1000] [--seed 1] [--json]

Seeds: the published D3.3 records and the schema-1 records of tests/data (real runner output).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import fuzz  # noqa: E402

from vedliot_aggregator.cli import cli  # noqa: E402


def _invoke(args: list[str]) -> tuple[int, bool, str]:
    result = CliRunner().invoke(cli, args)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    return result.exit_code, crashed, result.output


def batch(seeds: list[dict], count: int, seed: int, work: Path) -> dict:
    corpus = fuzz.write_corpus(seeds, work, count, seed)
    dirs = [str(corpus["fuzzed"]), str(corpus["valid"])]
    crashes = []
    _code, crashed, output = _invoke(["validate", *dirs, "--json"])
    crashes += ["validate"] * crashed
    lines = [line for line in output.splitlines() if line.startswith("{")]
    verdicts = {c["path"]: c["valid"] for c in map(json.loads, lines)}
    out = work / "report"
    started = time.perf_counter()
    _code, crashed, output = _invoke(["report", *dirs, "-o", str(out), "--no-reference", "--images", "none", "--json"])
    report_s = time.perf_counter() - started
    crashes += ["report"] * crashed
    summary = [line for line in output.splitlines() if line.startswith("{")]
    skipped = set(json.loads(summary[-1])["skipped"]) if summary and not crashed else set()
    reported = set()
    if (out / "metrics.csv").exists():
        with open(out / "metrics.csv", newline="") as handle:
            reported = {row["run_id"] for row in csv.DictReader(handle)}
    valid_ids = {json.loads(Path(p).read_text())["run_id"] for p, ok in verdicts.items() if ok}
    for args in (
        ["compare", *dirs],
        ["accuracy", *dirs],
        ["power", *dirs],
        ["pull", dirs[0], "--into", str(work / "p")],
    ):
        crashes += [args[0]] * _invoke(args)[1]
    return {
        "files": len(verdicts),
        "valid": sum(verdicts.values()),
        "invalid": len(verdicts) - sum(verdicts.values()),
        "crashes": crashes,
        "records_lost": len(valid_ids - reported),
        "invalid_not_listed": len({p for p, ok in verdicts.items() if not ok} - skipped),
        "report_s": round(report_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seeds = fuzz.seed_records(REPO / "results" / "reference" / "vedliot-d3.3" / "records",
                              REPO / "tests" / "data" / "records-v1", limit=60)  # fmt: skip
    results = []
    for index in range(args.batches):
        with tempfile.TemporaryDirectory() as work:
            results.append(batch(seeds, args.count, args.seed + index, Path(work)))
        if not args.json:
            print(f"batch {index + 1}/{args.batches}: {results[-1]}", file=sys.stderr)
    total = {key: sum(r[key] for r in results) for key in ("files", "valid", "invalid", "records_lost",
                                                           "invalid_not_listed")}  # fmt: skip
    total["crashes"] = sum(len(r["crashes"]) for r in results)
    total["batches"] = len(results)
    print(json.dumps({"total": total, "batches": results}) if args.json else json.dumps(total))


if __name__ == "__main__":
    main()
