"""The short summary the CLI prints after a run. The aggregator computes the report's metrics;
this is only what a person at the terminal wants to see."""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np


def summarize(samples_ns: Sequence[int], inferences: int, window_ns: int) -> Dict[str, float]:
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    if ms.size == 0:
        return {}
    return {
        "iterations": int(ms.size),
        "mean_ms": float(ms.mean()),
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
        "inferences_per_s": inferences / (window_ns / 1e9) if window_ns > 0 else float("nan"),
    }
