"""Collecting records: every file validated (older schema versions migrated first), bad files
reported with their path and reason and skipped, duplicates (the same run_id twice) dropped."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vedliot_aggregator.schema import SCHEMA_ID, FileCheck, problems, record_files

#: schema id -> function turning such a record into the next version (applied until current)
MIGRATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass(frozen=True)
class Loaded:
    path: Path
    record: dict[str, Any]


@dataclass
class Collection:
    records: list[Loaded] = field(default_factory=list)
    skipped: list[FileCheck] = field(default_factory=list)
    duplicates: list[Path] = field(default_factory=list)
    migrated: int = 0


def migrate(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    changed = False
    seen = set()
    while record.get("schema") in MIGRATIONS and record.get("schema") not in seen:
        seen.add(record["schema"])
        record = MIGRATIONS[record["schema"]](record)
        changed = True
    return record, changed


def collect(paths: Iterable[Path]) -> Collection:
    out = Collection()
    seen: set[str] = set()
    for path in record_files(paths):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            out.skipped.append(FileCheck(path, ("not UTF-8 text",)))
            continue
        except json.JSONDecodeError as exc:
            out.skipped.append(FileCheck(path, (f"not valid JSON ({exc.msg} at line {exc.lineno})",)))
            continue
        except OSError as exc:
            out.skipped.append(FileCheck(path, (f"cannot read ({exc.strerror or exc})",)))
            continue
        if isinstance(record, dict) and record.get("schema") != SCHEMA_ID:
            record, changed = migrate(record)
            out.migrated += changed
        found = problems(record)
        if found:
            out.skipped.append(FileCheck(path, tuple(found)))
            continue
        if record["run_id"] in seen:
            out.duplicates.append(path)
            continue
        seen.add(record["run_id"])
        out.records.append(Loaded(path, record))
    return out
