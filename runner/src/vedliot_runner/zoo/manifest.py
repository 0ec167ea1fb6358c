"""DIR/zoo.json: what a built zoo holds, and how a run finds a model file in it.

Read by the runner (numpy-free, stdlib only), written by the zoo builder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from vedliot_runner.errors import UsageError

ZOO_SCHEMA = "vedliot-bench/zoo/1"
MANIFEST = "zoo.json"


def load(directory: Path) -> Dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise UsageError(
            "--zoo {}: no {} there; build one with: vedliot-runner zoo build --output {}".format(
                directory, MANIFEST, directory
            )
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise UsageError("{}: unreadable zoo manifest ({}); rebuild it".format(path, exc)) from None
    if data.get("schema") != ZOO_SCHEMA:
        raise UsageError("{}: not a {} manifest; rebuild it".format(path, ZOO_SCHEMA))
    return data


def save(directory: Path, manifest: Dict[str, Any]) -> Path:
    path = directory / MANIFEST
    fd, tmp = tempfile.mkstemp(prefix=".zoo.", suffix=".tmp", dir=str(directory))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, str(path))
    return path


def empty(seed: int, zoo_version: int) -> Dict[str, Any]:
    return {"schema": ZOO_SCHEMA, "zoo_version": zoo_version, "seed": seed, "models": {}}


def find_file(entry: Dict[str, Any], fmt: str, precision: str) -> Optional[Dict[str, Any]]:
    for item in entry.get("files", []):
        if item["format"] == fmt and item["precision"] == precision:
            return item
    return None


def resolve(directory: Path, name: str, fmt: str, precision: str) -> Tuple[Path, Dict[str, Any], Dict[str, Any]]:
    """(file path, model entry, file entry) of zoo model `name` in `fmt` at `precision`."""
    manifest = load(directory)
    models: Dict[str, Any] = manifest["models"]
    if name not in models:
        raise UsageError(
            "--model zoo:{}: not in {} (it has: {}); build it with: vedliot-runner zoo build --output {} "
            "--models {}".format(name, directory / MANIFEST, ", ".join(sorted(models)) or "nothing", directory, name)
        )
    entry = models[name]
    item = find_file(entry, fmt, precision)
    if item is None:
        have = ", ".join("{} {}".format(f["format"], f["precision"]) for f in entry.get("files", []))
        raise UsageError(
            "--model zoo:{}: no {} file at {} in the zoo (it has: {}); build it with: vedliot-runner zoo build "
            "--output {} --models {} --formats {} --precisions {}".format(
                name, fmt, precision, have, directory, name, fmt, precision
            )
        )
    path = directory / item["path"]
    if not path.is_file():
        raise UsageError("{}: listed in {} but missing; rebuild the zoo".format(path, directory / MANIFEST))
    return path, entry, item


def model_names(manifest: Dict[str, Any]) -> List[str]:
    return sorted(manifest.get("models", {}))
