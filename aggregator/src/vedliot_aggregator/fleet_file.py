"""fleet.yaml: the boards of a fleet, each reached through its own Docker engine.

    defaults:                      # merged into every device (a device's own keys win)
      args: [--quick]
    devices:
      orin:                        # the name: results/<name>/, container vedliot-fleet-<name>
        engine: ssh://bench@orin   # ssh://, tcp://, unix://, or a Docker context name;
                                   # left out: this machine's engine (DOCKER_HOST)
        image: vedliot/bench-jetson:latest
        runtime: nvidia            # docker run --runtime
        gpus: all                  # docker run --gpus (all, a count, or device=0,1)
        devices: [/dev/hailo0]     # docker run --device
        volumes: [/data/imagenet:/data/imagenet:ro]
        env: {TZ: UTC}
        privileged: false
        args: [--models, resnet50] # the image's suite options (a list, or one string)

Every mistake is reported with the file, the device and the key, and what to write instead.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")  # a directory and a container name both take it
KEYS = {"engine", "image", "runtime", "gpus", "devices", "volumes", "env", "privileged", "args"}


class FleetFileError(ValueError):
    """One line: the file, where in it, what is wrong and what to write."""


@dataclass(frozen=True)
class Device:
    name: str
    image: str
    engine: str | None = None
    runtime: str | None = None
    gpus: str | None = None
    devices: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    privileged: bool = False
    args: tuple[str, ...] = field(default_factory=tuple)

    def fingerprint(self) -> str:
        """What makes a run this run: a changed device entry is a new run, not a resume."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def container(self) -> str:
        return f"vedliot-fleet-{self.name}"


@dataclass(frozen=True)
class Fleet:
    path: Path
    devices: tuple[Device, ...]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise FleetFileError(f"{where}: expected a list of strings, e.g. [/dev/hailo0]")


def _args(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return _strings(value, where)


def _env(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise FleetFileError(f"{where}: expected a mapping of NAME: value, e.g. {{TZ: UTC}}")
    return tuple(sorted((k, "" if v is None else str(v)) for k, v in value.items()))


def _gpus(value: Any, where: str) -> str | None:
    text = None if value is None else str(value)
    if text is None or text == "all" or text.isdigit() or re.fullmatch(r"device=[\w,-]+", text):
        return text
    raise FleetFileError(f"{where}: {text!r} is not a --gpus value; write all, a count (2) or device=0,1")


def _device(name: Any, entry: Any, defaults: dict, where: str) -> Device:
    if not isinstance(name, str) or not NAME.match(name):
        raise FleetFileError(f"{where}: device name {name!r}: use letters, digits, '.', '_' or '-' (at most 63)")
    if not isinstance(entry, dict):
        raise FleetFileError(f"{where}.{name}: expected a mapping with at least `image:`")
    merged = {**defaults, **entry}
    unknown = sorted(set(merged) - KEYS)
    if unknown:
        raise FleetFileError(f"{where}.{name}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(KEYS))}")
    here = f"{where}.{name}"
    image, engine = merged.get("image"), merged.get("engine")
    if not isinstance(image, str) or not image.strip():
        raise FleetFileError(f"{here}: no `image:` (e.g. image: vedliot/bench-x86-onnxruntime:latest)")
    for key in ("engine", "runtime"):
        if merged.get(key) is not None and not isinstance(merged[key], str):
            raise FleetFileError(f"{here}.{key}: expected a string")
    if not isinstance(merged.get("privileged", False), bool):
        raise FleetFileError(f"{here}.privileged: expected true or false")
    return Device(
        name=name,
        image=image.strip(),
        engine=engine or None,
        runtime=merged.get("runtime") or None,
        gpus=_gpus(merged.get("gpus"), f"{here}.gpus"),
        devices=_strings(merged.get("devices", []), f"{here}.devices"),
        volumes=_strings(merged.get("volumes", []), f"{here}.volumes"),
        env=_env(merged.get("env", {}), f"{here}.env"),
        privileged=merged.get("privileged", False),
        args=_args(merged.get("args", []), f"{here}.args"),
    )


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (a second `orin:` would silently replace the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"{key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load(path: Path) -> Fleet:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetFileError(f"{path}: cannot read it ({exc.strerror if isinstance(exc, OSError) else exc})") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise FleetFileError(f"{path}:{line} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("devices"), dict) or not data["devices"]:
        raise FleetFileError(f"{path}: expected `devices:` mapping each device name to its engine and image")
    unknown = sorted(set(data) - {"devices", "defaults"})
    if unknown:
        raise FleetFileError(f"{path}: unknown top-level key {unknown[0]!r}; the keys are defaults and devices")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise FleetFileError(f"{path}: defaults: expected a mapping of device keys")
    devices = tuple(_device(name, entry, defaults, f"{path}: devices") for name, entry in data["devices"].items())
    return Fleet(path, devices)
