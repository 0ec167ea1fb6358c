"""Every aggregator command on a few hundred mutated records (tests/fuzz.py, seeded) beside real
ones: no traceback, the documented exit codes, every valid record reported, every invalid one
listed. benchmarks/fuzz_aggregator.py runs 10,000."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import fuzz
from vedliot_aggregator.cli import cli

from conftest import REPO

COUNT = int(os.environ.get("VEDLIOT_FUZZ_COUNT", "300"))
SEED = int(os.environ.get("VEDLIOT_FUZZ_SEED", "1"))


@pytest.fixture(scope="module")
def corpus(measured, tmp_path_factory):
    seeds = fuzz.seed_records(measured, REPO / "results" / "reference" / "vedliot-d3.3" / "records",
                              REPO / "tests" / "data" / "records-v1", limit=25)  # fmt: skip
    return fuzz.write_corpus(seeds, tmp_path_factory.mktemp("fuzz"), COUNT, SEED)


def _run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args[0]} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output, result.output
    return result


def test_validate_sorts_every_file(corpus):
    result = _run("validate", str(corpus["fuzzed"]), str(corpus["valid"]), "--json")
    assert result.exit_code == 1  # some invalid
    checks = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    files = {c["path"]: c for c in checks}
    assert len(files) >= COUNT  # every file (the two looping links included) gets a verdict
    assert all(c["valid"] for p, c in files.items() if Path(p).parent == corpus["valid"])
    assert any(not c["valid"] for c in checks) and any(c["valid"] for c in checks)


def test_report_lists_every_file_once(corpus, tmp_path):
    validate = _run("validate", str(corpus["fuzzed"]), str(corpus["valid"]), "--json")
    verdicts = {c["path"]: c["valid"] for c in map(json.loads, validate.output.splitlines()) if "path" in c}
    out = tmp_path / "report"
    result = _run("report", str(corpus["fuzzed"]), str(corpus["valid"]), "-o", str(out), "--no-reference",
                  "--images", "none", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.splitlines()[-1])
    skipped = set(summary["skipped"])
    assert skipped == {p for p, ok in verdicts.items() if not ok}  # every invalid file listed, only those
    with open(out / "metrics.csv", newline="") as handle:
        reported = {row["run_id"] for row in csv.DictReader(handle)}
    valid_ids = set()
    for path, ok in verdicts.items():
        if ok:
            valid_ids.add(json.loads(Path(path).read_text())["run_id"])
    assert valid_ids == reported  # every valid record reported (duplicates once)
    html = (out / "index.html").read_text()
    assert "<script>alert(1)</script>" not in html and "<img src=x onerror" not in html
    for table in (out / "tables").glob("*.md"):
        assert "<script>" not in table.read_text()
    cells = [c for row in csv.reader(open(out / "metrics.csv", newline="")) for c in row]
    formulas = [c for c in cells if c.startswith(("=", "+", "@"))]
    assert not formulas  # no formula reaches a spreadsheet


def test_compare_accuracy_power_pull_on_the_corpus(corpus, tmp_path):
    result = _run("compare", str(corpus["valid"]), str(corpus["fuzzed"]), "--fail-on-regression")
    assert result.exit_code in (0, 1, 2), result.output
    result = _run("accuracy", str(corpus["fuzzed"]), str(corpus["valid"]))
    assert result.exit_code in (0, 2), result.output
    result = _run("power", str(corpus["fuzzed"]), str(corpus["valid"]))
    assert result.exit_code in (0, 2), result.output
    into = tmp_path / "pulled"
    result = _run("pull", str(corpus["fuzzed"]), "--into", str(into))
    assert result.exit_code == 1 and "skipped" in result.output  # invalid files are listed, not copied
    for path in into.rglob("*"):
        assert path.resolve().parent == into.resolve()  # nothing written outside --into
    for path in into.glob("*.json"):
        assert _run("validate", str(path)).exit_code == 0  # only valid records copied
