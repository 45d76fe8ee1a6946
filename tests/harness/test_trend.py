"""The batch-means slope against series whose trend is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.trend import MIN_BATCHES, MIN_PER_BATCH, slope_estimate

CONFIDENCE = 0.95  # each end a one-sided 95% bound: the interval is a 90% one


def ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    """Stationary AR(1) noise: what one-second telemetry samples of a steady process look like."""
    noise = np.empty(n)
    noise[0] = rng.normal(0, sigma / math.sqrt(1 - phi**2))
    for i in range(1, n):
        noise[i] = phi * noise[i - 1] + rng.normal(0, sigma)
    return noise


@settings(max_examples=50, deadline=None)
@given(slope=st.floats(-100, 100), intercept=st.floats(-1e4, 1e4), n=st.integers(12, 600))
def test_a_noiseless_line_gives_its_slope_with_a_closed_interval(slope: float, intercept: float, n: int) -> None:
    t = np.linspace(0, 10, n)
    estimate = slope_estimate(t, intercept + slope * t, CONFIDENCE)
    assert estimate.value == pytest.approx(slope, abs=1e-6 * (1 + abs(intercept)))
    assert estimate.hi - estimate.lo == pytest.approx(0, abs=1e-5 * (1 + abs(intercept)))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 1000), shift=st.floats(-1e3, 1e3))
def test_the_slope_and_its_interval_follow_an_affine_change_of_units(seed: int, scale: float, shift: float) -> None:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 60, 90))
    values = 0.3 * t + ar1(rng, 90, 0.5, 1.0)
    base, moved = slope_estimate(t, values, CONFIDENCE), slope_estimate(t, scale * values + shift, CONFIDENCE)
    for a, b in ((base.value, moved.value), (base.lo, moved.lo), (base.hi, moved.hi)):
        assert b == pytest.approx(scale * a, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.9])
def test_the_interval_covers_the_true_slope_about_as_often_as_it_claims(phi: float) -> None:
    # serially correlated samples: an ordinary regression over them covers far less often (0.8: ~40%)
    rng = np.random.default_rng(int(phi * 10))
    t = np.arange(120.0)
    covered = []
    for _ in range(400):
        estimate = slope_estimate(t, 0.05 * t + ar1(rng, t.size, phi, 1.0), CONFIDENCE)
        covered.append(estimate.lo <= 0.05 <= estimate.hi)
    assert 0.82 <= np.mean(covered) <= 0.97, np.mean(covered)


def test_too_few_samples_give_no_estimate_rather_than_a_narrow_one() -> None:
    n = MIN_BATCHES * MIN_PER_BATCH - 1
    assert math.isnan(slope_estimate(np.arange(float(n)), np.arange(float(n)), CONFIDENCE).value)
    assert math.isnan(slope_estimate(np.zeros(30), np.arange(30.0), CONFIDENCE).value)  # no time span


def test_missing_samples_are_dropped_and_the_order_of_arrival_does_not_matter() -> None:
    rng = np.random.default_rng(3)
    t = rng.permutation(np.arange(60.0))
    values = 2 * t + ar1(rng, 60, 0.3, 0.5)
    values[::7] = np.nan
    keep = np.isfinite(values)
    order = np.argsort(t[keep])
    assert slope_estimate(t, values, CONFIDENCE) == slope_estimate(t[keep][order], values[keep][order], CONFIDENCE)
