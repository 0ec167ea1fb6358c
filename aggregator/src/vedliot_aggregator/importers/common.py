"""What every importer shares: the record skeleton, reading files, the tool's summary."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from vedliot_aggregator.schema import SCHEMA_ID, unknown_host


class ImportFailure(ValueError):
    """The file is not what the importer reads; the message names it and says what to do."""


@dataclasses.dataclass(frozen=True)
class Given:
    """What the user says on the command line about the run the file came from."""

    model: str | None = None
    precision: str = "fp32"
    batch: int | None = None
    target: str | None = None
    ops: float | None = None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def read_bytes(path: Path) -> bytes:
    from vedliot_aggregator import untrusted

    try:
        return untrusted.read_bytes(path)
    except untrusted.Refused as exc:
        raise ImportFailure(f"{path}: {exc}") from None


def load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(read_bytes(path).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ImportFailure(f"{path}: not a readable {what} JSON file ({str(exc)[:120]})") from None


def read_text(path: Path, what: str) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ImportFailure(f"{path}: not a text file; expected {what}") from None


def number(text: Any) -> float | None:
    """A finite number from the tool's text ('12.34', '1,234.5'), or None."""
    if text is None or isinstance(text, bool):
        return None
    try:
        value = float(str(text).strip().replace(",", ""))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def skeleton(tool: str, paths: list[Path], given: Given, model: str, backend: str, batch: int, target: str) -> dict:
    """A record for one imported run; the id follows from the files' content, so one file
    imported twice is one run."""
    digests = [hashlib.sha256(read_bytes(p)).hexdigest() for p in paths]
    key = f"vedliot-import:{tool}:{':'.join(digests)}:{model}:{given.precision}:{batch}"
    imported = {"tool": tool, "file": str(paths[0]), "sha256": digests[0], "tool_version": None}
    if len(paths) > 1:
        imported["files"] = [{"file": str(p), "sha256": d} for p, d in zip(paths[1:], digests[1:], strict=True)]
    record = {
        "schema": SCHEMA_ID,
        "run_id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "status": "ok",
        "error": None,
        "started_at": _now(),
        "finished_at": _now(),
        "provenance": {"kind": "imported", "citation": f"{tool} {paths[0].name}", "imported": imported},
        "target": {"name": target, "image": None, "image_digest": None, "power_mode": None},
        "host": unknown_host(),
        "software": {"runner": f"imported from {tool}", "backend": {"name": backend, "version": None}, "packages": {}},
        "model": {"name": model, "path": None, "sha256": None, "format": "other", "inputs": [],
                  "ops_per_inference": None},
        "precision": {"requested": given.precision, "effective": None},
        "config": {"batch_size": batch, "mode": "latency", "warmup_iterations": 0, "warmup_seconds": 0,
                   "min_iterations": 1, "min_seconds": 0},
        "timing": None,
        "memory": None,
        "power": None,
        "accuracy": None,
    }  # fmt: skip
    if given.ops:
        record["model"]["ops_per_inference"] = {"value": given.ops, "source": "given"}
    return record


def with_imported(record: dict, **fields: Any) -> dict:
    """`record` with `provenance.imported` extended by `fields` (None values left out)."""
    imported = {**record["provenance"]["imported"], **{k: v for k, v in fields.items() if v is not None}}
    return {**record, "provenance": {**record["provenance"], "imported": imported}}


def failed(record: dict, message: str) -> dict:
    """The record of a run the tool itself reports as failed (at a stage the tool does not say)."""
    error = {"type": "ToolError", "message": message}
    return {**record, "status": "failed", "error": error, "timing": None}
