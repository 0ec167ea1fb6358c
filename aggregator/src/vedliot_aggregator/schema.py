"""The result-record contract: schema/result.schema.json, shipped inside this package."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:  # imported where an error is worded: a report over valid records never needs it
    import jsonschema

SCHEMA_ID = "vedliot-bench/result/2"
#: a CPU's measured peak (vedliot-runner peak): $defs/peak_record of the same schema file
PEAK_SCHEMA_ID = "vedliot-bench/peak/1"


@functools.cache
def result_schema() -> dict[str, Any]:
    text = resources.files("vedliot_aggregator").joinpath("result.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema

    schema = result_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def unknown_host(hostname: str = "unknown") -> dict[str, Any]:
    """The `host` of a record not measured here (published, imported): the required fields, unknown."""
    fields = ("os", "kernel", "arch", "cpu_model", "python")
    return {"hostname": hostname, **dict.fromkeys(fields, "unknown"), "cpu_cores_logical": None, "memory_bytes": None}


@functools.cache
def _fast_validator():
    """jsonschema-rs (Rust) when installed: about 100x faster on a valid record, which is what
    collecting 10,000 records mostly meets. Errors are still worded by jsonschema."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.validator_for(result_schema())


def problems(record: Any) -> list[str]:
    """Every way `record` breaks the contract, as 'at <json path>: <reason>' lines; empty when
    valid. The schema first; a record that satisfies it is then checked for parts that disagree
    (consistency.py)."""
    from vedliot_aggregator import consistency

    fast = _fast_validator()
    if fast is not None and fast.is_valid(record):
        return consistency.problems(record)
    return _worded(_validator().iter_errors(record)) or consistency.problems(record)


def _worded(errors: Iterable[Any]) -> list[str]:
    found = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        # "x is not valid under any of the given schemas" (a nullable section) says nothing: name
        # the failing item of the branch that came closest instead.
        while error.context:
            error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        where = "/".join(str(p) for p in error.absolute_path) or "(record)"
        message = error.message if len(error.message) <= 200 else error.message[:120] + " ... " + error.message[-75:]
        found.append(f"at {where}: {message}")
    return found


def is_peak(record: Any) -> bool:
    return isinstance(record, dict) and record.get("schema") == PEAK_SCHEMA_ID


@functools.cache
def _peak_validator() -> jsonschema.protocols.Validator:
    import jsonschema
    from referencing import Registry, Resource

    schema = result_schema()
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    cls = jsonschema.validators.validator_for(schema)
    return cls({"$ref": schema["$id"] + "#/$defs/peak_record"}, registry=registry)


def peak_problems(record: Any) -> list[str]:
    """Every way a peak record breaks $defs/peak_record, worded as `problems` words them."""
    return _worded(_peak_validator().iter_errors(record))


@dataclass(frozen=True)
class FileCheck:
    path: Path
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_file(path: Path) -> FileCheck:
    """The file as the aggregator would take it: records of an older schema version are checked
    after migration (they stay valid records of their own version)."""
    from vedliot_aggregator import untrusted
    from vedliot_aggregator.migrate import migrate

    try:
        record = untrusted.load_file(path)
    except untrusted.Refused as exc:
        return FileCheck(path, (str(exc),))
    if is_peak(record):
        return FileCheck(path, tuple(peak_problems(record)))
    if isinstance(record, dict) and record.get("schema") != SCHEMA_ID:
        record, _ = migrate(record)
    return FileCheck(path, tuple(problems(record)))


#: files the runner writes next to a record (DIR/<run_id>.<kind>.json), not records themselves
SIDECAR_SUFFIXES = (".detections.json",)


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIXES)


def record_files(paths: Iterable[Path]) -> Iterator[Path]:
    """JSON files named directly, and every *.json below the directories named (sorted), except
    hidden files (a runner's temp files) and sidecars."""
    for path in paths:
        if path.is_dir():
            yield from _json_below(path)
        else:
            yield path


def _json_below(root: Path) -> list[Path]:
    """What sorted(root.rglob("*.json")) gives, less hidden names and sidecars, in a sixth of its
    time (10,000 files: 0.19 s, before any was read): os.walk, which like rglob lists symlinked
    folders without entering them, and one sort by path parts, as Paths compare."""
    found = []
    for folder, folders, files in os.walk(root):
        parts = tuple(Path(folder).relative_to(root).parts)
        for name in (*folders, *files):  # rglob matches folders named *.json too (read_one says so)
            if name.endswith(".json") and not name.startswith(".") and not name.endswith(SIDECAR_SUFFIXES):
                found.append(((*parts, name), folder, name))
    found.sort()
    return [Path(os.path.join(folder, name)) for _, folder, name in found]
