"""Typed options of backends and power sources.

Each backend and power source declares its options as a frozen dataclass whose fields are made
with `option()`: a default, a help text and, where it applies, the allowed choices or range.
`parse()` turns the KEY=VALUE strings of `--backend-option` or `--power SOURCE:K=V` into that
dataclass before anything runs, so a wrong value is one line naming the option and what it
accepts, and the resolved values (defaults included) go into the record as they were used.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Type, TypeVar

from vedliot_runner.errors import UsageError

T = TypeVar("T")
Scalar = typing.Union[str, int, float, bool, None]

#: a typed option that checks more than its type (a JSON target, a delegate option list):
#: returns None when the text is fine, else what is wrong with it
Check = Callable[[Any], Optional[str]]

#: thread counts beyond this only exhaust memory (--threads 1000000 grew to 24 GB before failing)
MAX_THREADS = max(16, 4 * (os.cpu_count() or 1))
#: requests in flight: the default in-flight driver runs one thread per request
MAX_REQUESTS = 256
#: seconds options: finite, and small enough for the loop's integer nanoseconds
MAX_SECONDS = 1e7

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def option(
    default: Any,
    help: str,
    *,
    choices: Sequence[Any] = (),
    minimum: Optional[float] = None,
    maximum: Optional[float] = None,
    check: Optional[Check] = None,
) -> Any:
    """A dataclass field for an option (the help text is what `info` and the docs show)."""
    meta = {"help": help, "choices": tuple(choices), "minimum": minimum, "maximum": maximum, "check": check}
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class OptionInfo:
    name: str
    kind: type
    optional: bool
    default: Any
    help: str
    choices: Tuple[Any, ...]
    minimum: Optional[float]
    maximum: Optional[float]
    check: Optional[Check]

    def accepts(self) -> str:
        """What a value must be, in words."""
        if self.choices:
            return "choose from " + ", ".join(str(c) for c in self.choices)
        words = {int: "an integer", float: "a number", bool: "true or false", str: "text"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return "expected {} from {} to {}".format(words, _number(self.minimum), _number(self.maximum))
        if self.minimum is not None:
            return "expected {} of at least {}".format(words, _number(self.minimum))
        return "expected " + words


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def describe(cls: type) -> Dict[str, OptionInfo]:
    """The options a dataclass declares, by name, with their value types resolved."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in dataclasses.fields(cls):
        kind, optional = _unwrap(hints[field.name])
        meta = field.metadata
        out[field.name] = OptionInfo(
            name=field.name,
            kind=kind,
            optional=optional,
            default=field.default,
            help=meta.get("help", ""),
            choices=meta.get("choices", ()),
            minimum=meta.get("minimum"),
            maximum=meta.get("maximum"),
            check=meta.get("check"),
        )
    return out


def _unwrap(hint: Any) -> Tuple[type, bool]:
    args = getattr(hint, "__args__", None)
    if args and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return inner, True
    return hint, False


def convert(info: OptionInfo, text: str, where: str) -> Any:
    """`text` as the option's type, checked; UsageError naming `where` (e.g. "--backend-option x=1")."""
    text = text.strip()
    if info.optional and text.lower() in ("", "none", "auto", "default") and "auto" not in info.choices:
        return None
    try:
        value = _typed(info.kind, text)
    except ValueError:
        raise UsageError("{}: {}".format(where, info.accepts())) from None
    if info.choices and value not in info.choices:
        raise UsageError("{}: {}".format(where, info.accepts()))
    if (info.minimum is not None and value < info.minimum) or (info.maximum is not None and value > info.maximum):
        raise UsageError("{}: {}".format(where, info.accepts()))
    if info.check is not None:
        problem = info.check(value)
        if problem:
            raise UsageError("{}: {}".format(where, problem))
    return value


def _typed(kind: type, text: str) -> Any:
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    if kind is int:
        return int(text, 10)
    if kind is float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    return text


def parse(cls: Type[T], raw: Mapping[str, str], flag: str, owner: str) -> T:
    """`raw` KEY=VALUE strings as an instance of the options dataclass `cls`.

    `flag` is how the user gave them ("--backend-option", "--power rapl:") and `owner` what they
    belong to ("backend 'onnxruntime'"), for the one-line errors."""
    infos = describe(cls)
    unknown = sorted(set(raw) - set(infos))
    if unknown:
        raise UsageError(
            "{}{}: not an option of {} (known: {})".format(
                flag, ", ".join(unknown), owner, ", ".join(sorted(infos)) or "none"
            )
        )
    values = {}
    for key, text in raw.items():
        values[key] = convert(infos[key], text, "{}{}={}".format(flag, key, text))
    return cls(**values)


def as_record(options: Any) -> Dict[str, Scalar]:
    """The options as the record stores them: every field, defaults included."""
    return {field.name: getattr(options, field.name) for field in dataclasses.fields(options)}


def help_lines(cls: type) -> Dict[str, str]:
    """option -> help with its default, for `info` and error messages."""
    lines = {}
    for name, info in describe(cls).items():
        default = "" if info.default in (None, "") else " (default {})".format(info.default)
        lines[name] = info.help + default
    return lines


def writable_directory(path: str) -> Optional[str]:
    """A Check: None when `path` is (or can be made) a directory this process can write in."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        return "cannot create the directory ({})".format(exc.strerror or exc)
    if not os.access(path, os.W_OK | os.X_OK):
        return "the directory is not writable"
    return None


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For a backend or source without options of its own."""
