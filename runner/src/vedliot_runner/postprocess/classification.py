"""Top-k class ids from logits or probabilities."""

from __future__ import annotations

import numpy as np


def topk(scores: np.ndarray, k: int = 5) -> np.ndarray:
    """[N, C] scores -> [N, k] class ids, best first (ties broken by the lower class id)."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        scores = scores.reshape(scores.shape[0], -1)
    k = min(k, scores.shape[1])
    # A stable sort of the negated scores keeps the lower id first among equal scores.
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]
