"""What the JSON Schema cannot say about a record: its parts agree with each other. A record
that breaks one of these is as unreadable as one that breaks the schema (the power of a rail
with no samples, a window that ends before it starts), so `schema.problems` reports both."""

from __future__ import annotations

import itertools
import operator
from typing import Any


def _power(power: Any) -> list[str]:
    if not isinstance(power, dict) or power.get("kind") == "summary":
        return []
    found = []
    samples = power["samples"]
    times, values = samples["t_ns"], samples["values"]
    for rail in power["summed"]:
        if rail not in values:
            found.append(f"at power/summed: rail {rail!r} has no samples in power/samples/values")
    for rail, readings in values.items():
        if len(readings) != len(times):
            found.append(f"at power/samples/values/{rail}: {len(readings)} readings for {len(times)} times")
    if any(map(operator.gt, times, itertools.islice(times, 1, None))):  # in C: 60 readings in 2 us, not 20
        found.append("at power/samples/t_ns: times go backwards")
    idle = power.get("idle")
    if isinstance(idle, dict) and idle["end_ns"] < idle["start_ns"]:
        found.append("at power/idle: ends before it starts")
    return found


def _timing(timing: Any) -> list[str]:
    if not isinstance(timing, dict) or "window_start_ns" not in timing:
        return []
    if timing["window_end_ns"] < timing["window_start_ns"]:
        return ["at timing: the window ends before it starts"]
    return []


def _accuracy(accuracy: Any) -> list[str]:
    if not isinstance(accuracy, dict) or not isinstance(accuracy.get("predictions"), dict):
        return []
    predictions = accuracy["predictions"]
    if "labels" in predictions:
        lengths = {name: len(predictions[name]) for name in ("sample_ids", "labels", "top5")}
        if len(set(lengths.values())) > 1:
            counts = ", ".join(f"{n} {name}" for name, n in lengths.items())
            return [f"at accuracy/predictions: {counts}: one of each per sample"]
    return []


def problems(record: dict[str, Any]) -> list[str]:
    """Disagreements inside a schema-valid record, as 'at <path>: <reason>' lines."""
    return _power(record.get("power")) + _timing(record.get("timing")) + _accuracy(record.get("accuracy"))
