"""Maintainer script: turn the D3.3 transcription into the shipped reference records, the platform
catalog and the audit of the report's own inconsistencies.

    .venv/bin/python scripts/build_reference.py

Reads results/reference/vedliot-d3.3/transcription/ (perf-*.csv, accuracy-*.csv, platforms-*.yaml);
writes results/reference/vedliot-d3.3/records/*.json, .../audit.csv and the aggregator's
catalog/platforms.yaml. tests/test_reference.py checks that the committed outputs are what this
script produces from the committed transcription.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import yaml

from vedliot_aggregator import catalog, metrics, reference
from vedliot_aggregator.collect import collect

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "results" / "reference" / "vedliot-d3.3"
TRANSCRIPTION = BASE / "transcription"
RECORDS = BASE / "records"
AUDIT = BASE / "audit.csv"
CATALOG = REPO / "aggregator" / "src" / "vedliot_aggregator" / "catalog" / "platforms.yaml"
HEADER = """\
# Platform catalog: every platform of VEDLIoT D3.3 §3.4, with peak GOPS per precision exactly as
# the report derives them (peak_derivation quotes how), DPU peaks per configuration, idle power,
# cost (the report's currency is in notes), memory and power modes.
# Generated from results/reference/vedliot-d3.3/transcription/platforms-*.yaml by
# scripts/build_reference.py; add your own platforms in a separate file (--catalog FILE).
"""


def build_catalog() -> list[dict]:
    platforms = []
    for path in sorted(TRANSCRIPTION.glob("platforms-*.yaml")):
        platforms += yaml.safe_load(path.read_text(encoding="utf-8"))
    ids = [p["id"] for p in platforms]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        sys.exit(f"duplicate platform ids in the transcription: {duplicates}")
    CATALOG.write_text(HEADER + yaml.safe_dump(platforms, sort_keys=False, allow_unicode=True, width=110))
    return platforms


def write_audit(findings: list[reference.Finding]) -> None:
    fields = list(reference.Finding.__dataclass_fields__)
    with open(AUDIT, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for finding in findings:
            writer.writerow(finding.as_dict())


def main() -> int:
    build_catalog()
    if RECORDS.exists():
        shutil.rmtree(RECORDS)
    count = reference.write_records(reference.build_records(TRANSCRIPTION), RECORDS)
    loaded = collect([RECORDS])
    if loaded.skipped:
        for check in loaded.skipped[:5]:
            print(f"{check.path}: {check.problems[0]}", file=sys.stderr)
        return 1
    table = metrics.frame(loaded, catalog.load())
    findings = reference.audit(table)
    write_audit(findings)
    print(
        f"{count} records in {RECORDS.relative_to(REPO)}, {len(findings)} audit findings in {AUDIT.relative_to(REPO)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
