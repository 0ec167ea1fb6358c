"""Record files are untrusted input: they come from boards, other people's results directories and
containers. Every JSON file the aggregator reads goes through `load_file` first, which refuses, with
one line saying why, what no valid record holds and what would break the code after it:

- files over MAX_BYTES, not UTF-8, not JSON;
- NaN and Infinity (not JSON, though Python writes them) and numbers beyond a float or a 64-bit
  integer (`1e999`, a 400-digit integer);
- nesting deeper than MAX_DEPTH and strings longer than MAX_STRING.
The schema then checks what each field may hold.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import orjson

MAX_BYTES = 256 * 2**20  # a record of 10 million samples is about 100 MiB
MAX_DEPTH = 64  # a valid record nests about 8 deep
MAX_STRING = 1_000_000
MAX_INT = 2**63
#: how a refusal of a file that could not be read starts (a later try may read it)
UNREADABLE = "cannot read"


class Refused(ValueError):
    """The file is not something the aggregator reads; the message says why, in a few words."""


def _no_constant(name: str) -> Any:
    raise Refused(f"{name} is not JSON (write numbers, or null)")


class _Ambiguous(Exception):
    """orjson read a number json would have kept as an integer (or refused): read the text again."""


def loads(data: bytes | str) -> Any:
    """Strict JSON from bytes (UTF-8) or text, bounded as the module says. orjson reads the
    common (valid) file about 3x faster, and where its bytes prove the bounds (_plainly_bounded)
    nothing is walked. orjson turns an integer beyond 64 bits into a float, so a float that large
    in a file whose bytes could hold such an integer, and anything orjson refuses, is read again by
    json, whose messages the refusals quote."""
    if isinstance(data, bytes):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if _plainly_bounded(data):
                return value
            try:
                check(value, _BIG_FLOAT, short=len(data) <= MAX_STRING)
                return value
            except _Ambiguous:
                pass
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("not UTF-8 text") from None
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise Refused(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except Refused:
        raise
    except ValueError:  # an integer of more digits than Python converts
        raise Refused("a number out of range") from None
    check(value)
    return value


_BIG_FLOAT = float(MAX_INT)
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_INT_LIMIT = str(MAX_INT).encode()  # 19 digits


def _plainly_bounded(data: bytes) -> bool:
    """Whether the bytes alone show what check() would walk orjson's value for (80 us of a
    10 KB record's reading): no string too long (a short file); no nesting too deep (fewer
    brackets than MAX_DEPTH); no integer out of range and no float orjson made from an integer
    literal (every such literal has 20 digits, or 19 from 2**63 up; orjson refuses the floats
    json would read as infinity). Digits in strings count too: then check() decides."""
    if len(data) > MAX_STRING or data.count(b"{") + data.count(b"[") >= MAX_DEPTH:
        return False
    zeros = data.translate(_DIGITS_AS_ZERO)
    start = zeros.find(b"0" * 19)
    while start >= 0:  # the runs of 19 digits or more (nanosecond timestamps have 19)
        end = start + 19
        if zeros[end : end + 1] == b"0" or data[start:end] >= _INT_LIMIT:
            return False
        start = zeros.find(b"0" * 19, end)
    return True


def _out_of_range(number: Any, big_float: float = math.inf) -> bool:
    if isinstance(number, float):
        if not -big_float < number < big_float and math.isfinite(number):
            raise _Ambiguous
        return not math.isfinite(number)
    return isinstance(number, int) and not -MAX_INT <= number < MAX_INT


def _show(number: Any) -> str:
    text = repr(number)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"


def _check_list(items: list, depth: int, stack: list, big_float: float, short: bool) -> None:
    try:  # a list of numbers (samples, readings) or of strings (CPU flags): min and max run in C
        low, high = min(items), max(items)
    except (TypeError, ValueError):
        stack.extend((inner, depth + 1) for inner in items)
        return
    if isinstance(low, str):  # they compared, so every item is a string
        if not short and max(map(len, items)) > MAX_STRING:
            raise Refused(f"a string longer than {MAX_STRING} characters")
    elif isinstance(low, int | float) and isinstance(high, int | float):
        if _out_of_range(low, big_float) or _out_of_range(high, big_float):
            raise Refused(f"a number out of range ({_show(low if _out_of_range(low) else high)})")
    else:
        stack.extend((inner, depth + 1) for inner in items)


def check(value: Any, big_float: float = math.inf, short: bool = False) -> None:
    """Depth, string lengths and number ranges of a parsed value (iterative: no recursion to
    exhaust). A finite float of magnitude `big_float` or more raises _Ambiguous. `short`: the
    value came from at most MAX_STRING bytes, so no string in it can be too long."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            if not item:
                continue
            if depth >= MAX_DEPTH:  # its values would be deeper
                raise Refused(f"nested deeper than {MAX_DEPTH} levels")
            if not short and max(map(len, item)) > MAX_STRING:
                raise Refused(f"a key longer than {MAX_STRING} characters")
            # scalars checked here rather than pushed: a record is mostly scalars in dicts; the
            # common in-range number is compared inline, only the rest pays _out_of_range's call
            for inner in item.values():
                kind = type(inner)
                if kind is dict or kind is list:
                    stack.append((inner, depth + 1))
                elif kind is str:
                    if not short and len(inner) > MAX_STRING:
                        raise Refused(f"a string longer than {MAX_STRING} characters")
                elif kind is int:
                    if not -MAX_INT <= inner < MAX_INT:
                        raise Refused(f"a number out of range ({_show(inner)})")
                elif kind is float and not -big_float < inner < big_float and _out_of_range(inner, big_float):
                    raise Refused(f"a number out of range ({_show(inner)})")
        elif isinstance(item, list):
            if item:
                _check_list(item, depth, stack, big_float, short)
        elif isinstance(item, str):
            if len(item) > MAX_STRING:
                raise Refused(f"a string longer than {MAX_STRING} characters")
        elif _out_of_range(item, big_float):
            raise Refused(f"a number out of range ({_show(item)})")


def read_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of `path` (at most `max_bytes`), or Refused: too large, or unreadable (a loop of
    symlinks, a directory, no permission)."""
    try:
        with open(path, "rb") as handle:
            # read(max_bytes + 1) alone allocated (and freed) a 256 MiB buffer per file: 70 us of a
            # 10 KB record's 100. The size first; past it only a file that grew or has none (a pipe).
            expected = min(os.fstat(handle.fileno()).st_size, max_bytes)
            data = handle.read(expected + 1)
            if len(data) > expected:
                data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        raise Refused(f"{UNREADABLE} ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise Refused(f"larger than {max_bytes // 2**20} MiB")
    return data


def load_file(path: Path, max_bytes: int = MAX_BYTES) -> Any:
    """The JSON value in `path`, or Refused."""
    return loads(read_bytes(path, max_bytes))


def dumps(record: Any) -> str:
    """A record as the aggregator writes it: standard JSON only."""
    return json.dumps(record, indent=1, allow_nan=False) + "\n"
