"""The power module's series arithmetic (plain Python, for speed) against numpy's on random
series: interpolation, the trapezoid integral over a window and the covered share."""

from __future__ import annotations

import numpy as np
import pytest

from vedliot_aggregator import power


def _random_series(rng: np.random.Generator, kind: str) -> power.Series:
    t = np.cumsum(rng.uniform(0.001, 0.2, rng.integers(1, 80)))
    t[rng.integers(0, len(t))] = t[max(0, rng.integers(0, len(t)) - 1)]  # a repeated time now and then
    t = np.sort(t)
    values = np.cumsum(rng.uniform(0, 5, len(t))) if kind == "energy" else rng.uniform(0, 50, len(t))
    return power.Series(t.tolist(), values.tolist(), kind, float(rng.uniform(0.01, 0.3)))


@pytest.mark.parametrize("seed", range(200))
def test_interpolation_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    series = _random_series(rng, "power")
    t = np.unique(series.t)  # numpy.interp's points must increase
    v = np.interp(t, series.t, series.value).tolist()
    for x in rng.uniform(t[0] - 1, t[-1] + 1, 20).tolist() + t.tolist():
        assert power._interp(x, t.tolist(), v) == pytest.approx(float(np.interp(x, t, v)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(200))
def test_mean_power_and_coverage_match_numpy(seed):
    rng = np.random.default_rng(seed)
    series = _random_series(rng, "power")
    t, v = np.asarray(series.t), np.asarray(series.value)
    start, end = sorted(rng.uniform(t[0] - 0.5, t[-1] + 0.5, 2).tolist())
    watts, covered = power._mean_power(series, start, end)
    # covered: a fine grid of the window, each point within half an interval of a reading or not
    grid = np.linspace(start, end, 20001)
    near = np.abs(grid[:, None] - t[None, :]).min(axis=1) <= series.interval_s / 2
    assert covered == pytest.approx(near.mean(), abs=2e-3)
    inside = (t > start) & (t < end)
    if not inside.any() and covered == 0:
        assert watts is None
        return
    points_t = np.concatenate([[start], t[inside], [end]])
    points_v = np.concatenate([[np.interp(start, t, v)], v[inside], [np.interp(end, t, v)]])
    expected = np.trapezoid(points_v, points_t) / (end - start)
    assert watts == pytest.approx(float(expected), rel=1e-9)


@pytest.mark.parametrize("seed", range(50))
def test_energy_counters_differentiate_like_numpy(seed):
    rng = np.random.default_rng(seed)
    series = _random_series(rng, "energy")
    t, joules = np.unique(series.t, return_index=True)
    series = power.Series(t.tolist(), np.asarray(series.value)[joules].tolist(), "energy", series.interval_s)
    if len(t) < 2:
        assert power._mean_power(series, t[0] - 1, t[0] + 1) == (None, 0.0)
        return
    start, end = sorted(rng.uniform(t[0], t[-1], 2).tolist())
    watts, covered = power._mean_power(series, start, end)
    expected = (np.interp(end, t, series.value) - np.interp(start, t, series.value)) / (end - start)
    assert watts == pytest.approx(float(expected), rel=1e-9) and covered == pytest.approx(1.0)
