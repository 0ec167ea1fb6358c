"""Collecting records: every file validated (older schema versions migrated first), bad files
reported with their path and reason and skipped, duplicates (the same run_id twice) dropped, and
each record handed on as a typed records.Record."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vedliot_aggregator import cpu_peak, records, untrusted
from vedliot_aggregator.migrate import MIGRATIONS, migrate
from vedliot_aggregator.schema import SCHEMA_ID, FileCheck, is_peak, peak_problems, problems, record_files

__all__ = ["MIGRATIONS", "Collection", "Loaded", "collect", "read_one"]


@dataclass(frozen=True)
class Loaded:
    path: Path
    record: records.Record


@dataclass
class Collection:
    records: list[Loaded] = field(default_factory=list)
    skipped: list[FileCheck] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    migrated: int = 0
    #: measured CPU peaks (vedliot-runner peak), for the performance ratio of runs on those CPUs
    peaks: list[cpu_peak.PeakRecord] = field(default_factory=list)


def collect(paths: Iterable[Path]) -> Collection:
    # Records hold no reference cycles, yet every few thousand allocations the cyclic collector
    # walked all of the records read so far: reading 100,000 took 1.7x as long. It is off while
    # reading, and what was read is then frozen out of its later walks (still freed by refcount).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _collect(paths)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def read_one(path: Path) -> FileCheck | cpu_peak.PeakRecord | tuple[records.Record, bool]:
    """One file: why it is skipped, a peak record, or a valid record (and whether it was migrated)."""
    try:
        record = untrusted.load_file(path)
    except untrusted.Refused as exc:
        return FileCheck(path, (str(exc),))
    if is_peak(record):
        found = peak_problems(record)
        return FileCheck(path, tuple(found)) if found else cpu_peak.PeakRecord.load(path, record)
    changed = False
    if isinstance(record, dict) and record.get("schema") != SCHEMA_ID:
        record, changed = migrate(record)
    found = problems(record)
    if found:
        return FileCheck(path, tuple(found))
    return records.load(record), changed


def _collect(paths: Iterable[Path]) -> Collection:
    out = Collection()
    seen: set[str] = set()
    for path in record_files(paths):
        item = read_one(path)
        if isinstance(item, FileCheck):
            out.skipped.append(item)
            continue
        if isinstance(item, tuple):
            out.migrated += item[1]
        run_id = item.run_id if isinstance(item, cpu_peak.PeakRecord) else item[0].run_id
        if run_id in seen:
            out.duplicates.append(path)
            continue
        seen.add(run_id)
        if isinstance(item, cpu_peak.PeakRecord):
            out.peaks.append(item)
        else:
            out.records.append(Loaded(path, item[0]))
    return out
