"""Older record versions, turned into the current one before validation (collect, validate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def v1_to_v2(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2. Version 2 only adds fields (a worker's signal, --timeout, the worker's
    start-up time, typed power options); what 1 lacks is said, not invented: a schema-1 peak RSS
    covered the whole runner process (in a suite, every run before too), so its scope is
    "process"."""
    record = dict(record, schema="vedliot-bench/result/2")
    if isinstance(record.get("memory"), dict):
        record["memory"] = dict(record["memory"], scope="process")
    return record


#: schema id -> function turning such a record into the next version (applied until current)
MIGRATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"vedliot-bench/result/1": v1_to_v2}


def migrate(record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """`record` in the current version (unchanged when its `schema` is not an older known one:
    the schema check then says what is wrong)."""
    changed = False
    seen = set()
    while isinstance(record.get("schema"), str) and record["schema"] in MIGRATIONS and record["schema"] not in seen:
        seen.add(record["schema"])
        record = MIGRATIONS[record["schema"]](record)
        changed = True
    return record, changed
