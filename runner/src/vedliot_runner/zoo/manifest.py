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
#: formats a vendor compiler makes from the zoo's files, and how they get into it
COMPILED = {
    "edgetpu": "compile it with: vedliot-runner zoo edgetpu --zoo {zoo} --models {model}",
    "hef": "compile it with Hailo's Dataflow Compiler (docs/edge.md), then: vedliot-runner zoo add --zoo {zoo} "
    "--model {model} --file MODEL.hef",
    "xmodel": "quantize and compile it with Vitis AI for this DPU (docs/edge.md), then: vedliot-runner zoo add "
    "--zoo {zoo} --model {model} --file MODEL.xmodel",
}
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
    if not isinstance(data, dict) or data.get("schema") != ZOO_SCHEMA:
        raise UsageError("{}: not a {} manifest; rebuild it".format(path, ZOO_SCHEMA))
    problem = _problem(data)
    if problem:
        raise UsageError(
            "{}: broken zoo manifest ({}); rebuild it with: vedliot-runner zoo build --output {}".format(
                path, problem, directory
            )
        )
    return data


_FILE_KEYS = {"format": str, "precision": str, "path": str}


def _problem(data: Dict[str, Any]) -> Optional[str]:
    """What makes a manifest unusable (a hand edit, a truncated copy), or None."""
    models = data.get("models")
    if not isinstance(models, dict):
        return "'models' is not an object"
    for name, entry in models.items():
        if not isinstance(entry, dict):
            return "models.{} is not an object".format(name)
        files = entry.get("files", [])
        if not isinstance(files, list):
            return "models.{}.files is not a list".format(name)
        for index, item in enumerate(files):
            where = "models.{}.files[{}]".format(name, index)
            if not isinstance(item, dict):
                return where + " is not an object"
            for key, kind in _FILE_KEYS.items():
                if not isinstance(item.get(key), kind):
                    return "{} has no '{}'".format(where, key)
        ops = entry.get("ops_per_inference")
        if ops is not None and not (isinstance(ops, dict) and isinstance(ops.get("value"), (int, float))):
            return "models.{}.ops_per_inference has no numeric 'value'".format(name)
    return None


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


def form_of(item: Dict[str, Any]) -> Optional[str]:
    """The int8 form of an ONNX int8 file ("s8s8" for files listed before forms existed), else None."""
    if item["format"] != "onnx" or item["precision"] != "int8":
        return None
    return (item.get("int8_form") or {}).get("name", "s8s8")


def find_file(
    entry: Dict[str, Any], fmt: str, precision: str, form: Optional[str] = None, exact: bool = False
) -> Optional[Dict[str, Any]]:
    """The file of `fmt` at `precision`; of int8 `form` where the zoo has it (exact: only that form)."""
    found = [i for i in entry.get("files", []) if i["format"] == fmt and i["precision"] == precision]
    if form is not None:
        same = [i for i in found if form_of(i) in (form, None)]
        found = same if (same or exact) else found
    elif exact:
        found = [i for i in found if form_of(i) in (None, "s8s8")]
    return found[0] if found else None


def resolve(
    directory: Path, name: str, fmt: str, precision: str, form: Optional[str] = None
) -> Tuple[Path, Dict[str, Any], Dict[str, Any]]:
    """(file path, model entry, file entry) of zoo model `name` in `fmt` at `precision` (int8: the
    backend's `form` where the zoo has it, else the form it has)."""
    manifest = load(directory)
    models: Dict[str, Any] = manifest["models"]
    if name not in models:
        raise UsageError(
            "--model zoo:{}: not in {} (it has: {}); build it with: vedliot-runner zoo build --output {} "
            "--models {}".format(name, directory / MANIFEST, ", ".join(sorted(models)) or "nothing", directory, name)
        )
    entry = models[name]
    item = find_file(entry, fmt, precision, form)
    if item is None:
        have = ", ".join("{} {}".format(f["format"], f["precision"]) for f in entry.get("files", []))
        if fmt in COMPILED:
            raise UsageError(
                "--model zoo:{}: no {} file at {} in the zoo (it has: {}); {}".format(
                    name, fmt, precision, have, COMPILED[fmt].format(zoo=directory, model=name)
                )
            )
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
