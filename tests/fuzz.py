"""Mutated records for the aggregator's fuzz test and benchmark: from real records, what a careless
or hostile user could leave in a results directory. Seeded: the same seed writes the same files."""

from __future__ import annotations

import copy
import json
import random
import uuid
from pathlib import Path
from typing import Any

MARKUP = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "| table | break |\n# heading",
    "../../../../etc/passwd",
    "/absolute/path",
    "\u202eevil\u0000nul",
    "名前 🚀 ünïcödé",
    "x" * 300,
    "",
]
NUMBERS = [-1, 0, -1e-300, 1e308, -1e308, 2**62, -(2**62), 0.5, 1e-320, 10**18]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into nested dicts and lists (lists: only their first three items)."""
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            out += _paths(inner, (*prefix, index))
    return out


def _get(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


def _set(value: Any, path: tuple, new: Any) -> None:
    _get(value, path[:-1])[path[-1]] = new


def _random_value(rng: random.Random) -> Any:
    choice = rng.randrange(9)
    return [
        lambda: rng.choice(MARKUP),
        lambda: rng.choice(NUMBERS),
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: [rng.choice(NUMBERS) for _ in range(rng.randrange(5))],
        lambda: {rng.choice(MARKUP) or "k": rng.choice(NUMBERS)},
        lambda: [[[[["deep"]]]]],
        lambda: rng.random() * 1e4,
        lambda: rng.randrange(-(10**6), 10**6),
    ][choice]()


def mutate_record(record: dict, rng: random.Random) -> dict:
    """One to three changes anywhere in the record: a type, a deletion, a value out of range,
    markup in a string, a huge array, a list cut short or reversed, deep nesting."""
    out = copy.deepcopy(record)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(out) if p]
        path = rng.choice(paths)
        kind = rng.randrange(8)
        parent = _get(out, path[:-1])
        if kind == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == 1 and isinstance(_get(out, path), str):
            _set(out, path, rng.choice(MARKUP))
        elif kind == 2 and isinstance(_get(out, path), (int, float)) and not isinstance(_get(out, path), bool):
            _set(out, path, rng.choice(NUMBERS))
        elif kind == 3:
            _set(out, path, [rng.randrange(10**9) for _ in range(rng.choice([0, 1, 50_000]))])
        elif kind == 5 and isinstance(_get(out, path), list) and len(_get(out, path)) > 1:
            items = _get(out, path)  # sections that no longer agree: cut short, or backwards
            _set(out, path, items[: rng.randrange(len(items))] if rng.random() < 0.5 else items[::-1])
        elif kind == 4:
            nested: Any = 1
            for _ in range(rng.choice([10, 60, 70, 300])):
                nested = [nested]
            _set(out, path, nested)
        else:
            _set(out, path, _random_value(rng))
    if rng.random() < 0.5:  # keep its id unique most of the time; sometimes a duplicate
        out["run_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return out


RAW = [
    b"",
    b"{",
    b"\xff\xfe\x00garbage",
    b'{"run_id": NaN}',
    b'{"a": Infinity}',
    b'{"a": 1e999}',
    b'{"a": ' + b"9" * 400 + b"}",
    b"[" * 5000 + b"]" * 5000,
    b"null",
    b"[]",
    b'"a string"',
]


def _raw_mutation(original: dict, rng: random.Random) -> bytes:
    choice = rng.randrange(4)
    text = json.dumps(original)
    if choice == 0:
        return rng.choice(RAW)
    if choice == 1:
        return text[: rng.randrange(len(text))].encode()  # truncated by a writer that died
    if choice == 2:  # a number made out of range in the text itself
        return text.replace('"batch_size": ', '"batch_size": 1' + "0" * 400, 1).encode()
    return text.replace(": 0.", ': NaN, "x": 0.', 1).encode()


def write_corpus(seeds: list[dict], directory: Path, count: int, seed: int) -> dict[str, Path]:
    """`count` mutated files (and every seed, unchanged, under a fresh id) in `directory`;
    symlink loops beside them. Returns {"valid": dir of the seeds, "fuzzed": dir of the rest}."""
    rng = random.Random(seed)
    valid, fuzzed = directory / "valid", directory / "fuzzed"
    valid.mkdir(parents=True)
    fuzzed.mkdir()
    for record in seeds:
        fresh = {**copy.deepcopy(record), "run_id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
        (valid / f"{fresh['run_id']}.json").write_text(json.dumps(fresh))
    for index in range(count):
        seed_record = rng.choice(seeds)
        path = fuzzed / f"f{index:05d}.json"
        if rng.random() < 0.15:
            path.write_bytes(_raw_mutation(seed_record, rng))
        else:
            path.write_text(json.dumps(mutate_record(seed_record, rng)))
    (fuzzed / "loop-a.json").symlink_to(fuzzed / "loop-b.json")
    (fuzzed / "loop-b.json").symlink_to(fuzzed / "loop-a.json")
    (fuzzed / "sub").mkdir()
    (fuzzed / "sub" / "up").symlink_to(fuzzed)  # a directory loop
    return {"valid": valid, "fuzzed": fuzzed}


def seed_records(*directories: Path, limit: int = 40) -> list[dict]:
    out = []
    for directory in directories:
        for path in sorted(directory.glob("*.json"))[:limit]:
            if not path.name.endswith(".detections.json"):
                out.append(json.loads(path.read_text()))
    return out
