"""Records to metrics rows for a report, without holding the records: each file is read,
validated and turned into its record-local row (metrics.record_row) and accuracy score where it
is read, in forked workers over shares of the files (parallel.py). Only rows, scores, peak
records and the skipped files come back, in file order; the cross-record steps (duplicates,
peaks, accuracy verdicts) run in the parent (metrics.finish).

collect.py keeps the other path, every record in memory as a typed Record, for the commands
that read the records themselves.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from vedliot_aggregator import cpu_peak, metrics, parallel, row_cache, scoring
from vedliot_aggregator.collect import Loaded, read_one
from vedliot_aggregator.schema import FileCheck, record_files


@dataclass(frozen=True)
class _Entry:
    run_id: str
    migrated: bool
    row: dict[str, Any]
    score: scoring.Score | None


@dataclass
class Gathered:
    rows: list[dict[str, Any]] = field(default_factory=list)
    scores: list[scoring.Score] = field(default_factory=list)
    peaks: list[cpu_peak.PeakRecord] = field(default_factory=list)
    skipped: list[FileCheck] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    migrated: int = 0


_HOSTS: dict[tuple, dict[str, Any]] = {}


def _entry(
    path: Path, annotations: scoring.Annotations, meter_log: Path | None, clock_offset: float | None
) -> _Entry | FileCheck | cpu_peak.PeakRecord:
    item = read_one(path)
    if isinstance(item, FileCheck | cpu_peak.PeakRecord):
        return item
    record, migrated = item
    row = metrics.record_row(Loaded(path, record), meter_log, clock_offset)
    host = row["cpu_host"]
    if host is not None:  # one object per CPU: sent back, and cached, once per chunk
        row["cpu_host"] = _HOSTS.setdefault(cpu_peak.host_key(host), host)
    return _Entry(record.run_id, migrated, row, scoring.score_record(record, path, annotations))


def gather(
    paths: Iterable[Path],
    data_roots: Iterable[Path] = (),
    meter_log: Path | None = None,
    clock_offset: float | None = None,
    cache: bool = True,
) -> Gathered:
    """Rows, scores and peak records of every valid record under `paths`; the first of several
    files with the same run_id is kept, as collect() does. Files unchanged since an earlier
    report are taken from its row cache (row_cache.py) unless `cache` is False."""
    paths = list(paths)
    files = list(record_files(paths))
    job = partial(_entry, annotations=scoring.Annotations(list(data_roots)), meter_log=meter_log,
                  clock_offset=clock_offset)  # fmt: skip
    cached = row_cache.RowCache.open(paths, meter_log, clock_offset) if cache else row_cache.RowCache(None, {})
    stamps = [row_cache.stamp(f) for f in files] if cached.where is not None else [None] * len(files)
    known = [cached.get(f, s) for f, s in zip(files, stamps, strict=True)]
    enabled = gc.isenabled()
    gc.disable()  # nothing read here forms cycles; the collector's walks only cost time
    try:
        fresh = iter(parallel.ordered_map(job, [f for f, k in zip(files, known, strict=True) if k is None]))
        items = [next(fresh) if k is None else k for k in known]
        cached.save(files, stamps, items)  # before the cross-record steps change the rows
    finally:
        if enabled:
            gc.enable()
    return _assemble(files, items)


def _assemble(files: list[Path], items: list[Any]) -> Gathered:
    out = Gathered()
    seen: set[str] = set()
    for path, item in zip(files, items, strict=True):
        if isinstance(item, FileCheck):
            out.skipped.append(item)
            continue
        if isinstance(item, _Entry):
            out.migrated += item.migrated
        if item.run_id in seen:
            out.duplicates.append(path)
            continue
        seen.add(item.run_id)
        if isinstance(item, cpu_peak.PeakRecord):
            out.peaks.append(item)
            continue
        out.rows.append(item.row)
        if item.score is not None:
            out.scores.append(item.score)
    return out
