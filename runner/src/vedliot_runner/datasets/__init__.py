"""Validation datasets for accuracy runs: their samples, labels and identity (name, split, count,
annotation sha256), read from the usual on-disk layouts with the standard library only."""

from __future__ import annotations

from typing import List, Sequence, TypeVar

T = TypeVar("T")


def spread_subset(items: Sequence[T], limit: int) -> List[T]:
    """`limit` items evenly spread over `items` (all of them without a limit): deterministic, and
    unlike the first N it does not take one class only from a class-sorted layout."""
    if limit <= 0 or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]
