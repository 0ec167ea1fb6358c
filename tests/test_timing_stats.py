"""A run's timing statistics, computed per record without numpy's per-call overheads, are
numpy's own figures: mean, np.std / mean, np.percentile's default (linear) quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from vedliot_aggregator import metrics
from vedliot_aggregator.records import Timing


@pytest.mark.parametrize("seed", range(40))
def test_timing_statistics_are_numpys(seed):
    rng = np.random.default_rng(seed)
    count = int(rng.choice([1, 2, 3, 4, 7, 10, 199, 200, 1001]))
    scale = 10 ** int(rng.integers(3, 10))
    samples = rng.integers(1, scale, count).tolist() if seed % 4 else [scale] * count  # equal samples too
    stats = metrics._timing_stats(Timing(samples_ns=samples))
    ms = np.sort(np.asarray(samples, dtype=np.float64) / 1e6)  # summed in sorted order, as the row is
    lo, q1, median, q3, hi, p90, p99 = np.percentile(ms, [0, 25, 50, 75, 100, 90, 99]).tolist()
    assert stats["inference_time_ms"] == float(ms.mean())
    assert stats["inference_cv"] == float(ms.std() / ms.mean())
    assert stats["spread_ms"] == (lo, q1, median, q3, hi)
    assert (stats["inference_median_ms"], stats["inference_p90_ms"], stats["inference_p99_ms"]) == (median, p90, p99)
    assert stats["iterations"] == count
    assert type(stats["inference_cv"]) is float and type(stats["inference_time_ms"]) is float
