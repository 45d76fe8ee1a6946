"""Statistical properties of harness.analysis.stats: coverage, exact edge cases, LoadGen numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.special import betainc

from harness.analysis.stats import (
    bounds_level,
    mean_ci,
    min_samples_for_percentile,
    order_statistic_ranks,
    percentile_table,
    proportion_ci,
    quantile_ci,
    quantile_upper_bound,
    rate_ci,
)

REPLICATES = 4000


def beyond_probabilities(n: int, q: float, lower: int, upper: int) -> tuple[float, float]:
    """P(x_(lower) > Q_q) and P(x_(upper) < Q_q), from the order statistics' own distribution,
    P(x_(r) < Q_q) = I_q(r, n - r + 1): an independent check of the binomial ranks."""
    return 1.0 - float(betainc(lower, n - lower + 1, q)), float(betainc(upper, n - upper + 1, q))


def expected_ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """The equal-tailed ranks, found by scanning the incomplete beta function."""
    tail = (1.0 - confidence) / 2.0
    lower = max((r for r in range(1, n + 1) if beyond_probabilities(n, q, r, n)[0] <= tail), default=0)
    upper = min((r for r in range(1, n + 1) if beyond_probabilities(n, q, 1, r)[1] <= tail), default=n + 1)
    return lower, upper


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    n=st.integers(min_value=60, max_value=400),
    q=st.sampled_from([0.5, 0.9, 0.95]),
    confidence=st.sampled_from([0.9, 0.95, 0.99]),
    family=st.sampled_from(["exponential", "lognormal"]),
)
def test_quantile_ci_covers_the_true_quantile_at_its_exact_rate(n: int, q: float, confidence: float, family: str) -> None:
    """Simulated coverage matches the exact coverage of the chosen ranks (within Monte-Carlo
    error, both ways), and the exact coverage is at least nominal."""
    lower, upper = order_statistic_ranks(n, np.array([q]), confidence)
    lower, upper = int(lower[0]), int(upper[0])
    if not (1 <= lower and upper <= n):
        return  # n too small for both bounds to exist at this q
    above, below = beyond_probabilities(n, q, lower, upper)
    exact = 1.0 - above - below
    rng = np.random.default_rng(n * 1000 + int(q * 100))
    if family == "exponential":
        draws, truth = rng.exponential(2.0, (REPLICATES, n)), -2.0 * math.log(1.0 - q)
    else:
        draws, truth = rng.lognormal(3.0, 0.5, (REPLICATES, n)), math.exp(3.0 + 0.5 * sps.norm.ppf(q))
    ordered = np.sort(draws, axis=1)
    covered = float(np.mean((ordered[:, lower - 1] <= truth) & (truth <= ordered[:, upper - 1])))
    assert exact >= confidence
    assert abs(covered - exact) <= 4.0 * math.sqrt(exact * (1.0 - exact) / REPLICATES) + 1e-3


@pytest.mark.parametrize(("n", "q", "confidence"), [(1000, 0.99, 0.95), (300, 0.5, 0.9), (5000, 0.999, 0.9), (40, 0.9, 0.99)])
def test_order_statistic_ranks_match_an_independent_computation(n: int, q: float, confidence: float) -> None:
    lower, upper = order_statistic_ranks(n, np.array([q]), confidence)
    assert (int(lower[0]), int(upper[0])) == expected_ranks(n, q, confidence)


def test_quantile_ci_reads_the_order_statistics() -> None:
    samples = np.random.default_rng(1).exponential(1.0, 1000)
    estimate = quantile_ci(samples, 0.99, 0.95)
    lower, upper = expected_ranks(1000, 0.99, 0.95)
    ordered = np.sort(samples)
    assert estimate.lo == ordered[lower - 1] and estimate.hi == ordered[upper - 1]
    assert estimate.value == pytest.approx(np.quantile(samples, 0.99))
    assert estimate.lo <= estimate.value <= estimate.hi and estimate.n == 1000


def test_quantile_ci_ignores_nan_and_says_nan_when_n_is_too_small() -> None:
    estimate = quantile_ci(np.array([1.0, 2.0, np.nan, 3.0]), 0.99, 0.95)
    assert estimate.n == 3
    assert math.isnan(estimate.hi)  # three samples cannot bound a p99 from above
    assert not math.isnan(estimate.lo)
    empty = quantile_ci(np.array([]), 0.5)
    assert empty.n == 0 and math.isnan(empty.value) and math.isnan(empty.lo) and math.isnan(empty.hi)


@pytest.mark.parametrize(("q", "confidence", "n"), [(0.99, 0.99, 459), (0.90, 0.99, 44), (0.95, 0.95, 59)])
def test_min_samples_match_loadgen(q: float, confidence: float, n: int) -> None:
    assert min_samples_for_percentile(q, confidence) == n


@settings(max_examples=40, deadline=None)
@given(q=st.floats(0.5, 0.999), confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_upper_bound_exists_exactly_from_the_loadgen_minimum(q: float, confidence: float) -> None:
    needed = min_samples_for_percentile(q, confidence)
    assert q**needed <= 1 - confidence < q ** (needed - 1) or needed == 1
    samples = np.arange(needed, dtype=float)
    assert quantile_upper_bound(samples, q, confidence) == samples[-1]
    assert math.isnan(quantile_upper_bound(samples[:-1], q, confidence))


def _exact_coverage(n: int, p: float, confidence: float, method: str) -> float:
    ks = np.arange(n + 1)
    covered = np.array([lo <= p <= hi for lo, hi in (proportion_ci(int(k), n, confidence, method) for k in ks)])
    return float(sps.binom.pmf(ks, n, p)[covered].sum())


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 150), p=st.floats(0.001, 0.999), confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_clopper_pearson_coverage_is_at_least_nominal(n: int, p: float, confidence: float) -> None:
    assert _exact_coverage(n, p, confidence, "clopper-pearson") >= confidence - 1e-9


@settings(max_examples=10, deadline=None)
@given(n=st.integers(20, 150), confidence=st.sampled_from([0.9, 0.95]))
def test_wilson_average_coverage_is_near_nominal(n: int, confidence: float) -> None:
    grid = np.linspace(0.02, 0.98, 49)
    mean_coverage = np.mean([_exact_coverage(n, float(p), confidence, "wilson") for p in grid])
    assert mean_coverage >= confidence - 0.01


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_proportion_ci_edges(method: str) -> None:
    lo, hi = proportion_ci(0, 100, 0.95, method)
    assert lo == 0.0 and 0.0 < hi < 0.06
    lo, hi = proportion_ci(100, 100, 0.95, method)
    assert hi == 1.0 and 0.94 < lo < 1.0
    assert all(math.isnan(x) for x in proportion_ci(0, 0, 0.95, method))
    lo, hi = proportion_ci(5, 100, 0.95, method)
    assert lo < 0.05 < hi


def test_clopper_pearson_zero_failures_is_the_rule_of_three() -> None:
    _, hi = proportion_ci(0, 3000, bounds_level(0.95), "clopper-pearson")
    assert hi == pytest.approx(1 - 0.05 ** (1 / 3000))


def test_proportion_ci_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        proportion_ci(5, 3)
    with pytest.raises(ValueError):
        proportion_ci(1, 3, method="agresti")  # type: ignore[arg-type]


def test_mean_ci_matches_scipy_t_interval() -> None:
    samples = np.random.default_rng(2).normal(10.0, 2.0, 50)
    estimate = mean_ci(samples, 0.95)
    lo, hi = sps.t.interval(0.95, 49, loc=samples.mean(), scale=sps.sem(samples))
    assert (estimate.lo, estimate.hi) == pytest.approx((lo, hi))
    assert math.isnan(mean_ci(np.array([1.0]), 0.95).hi)


def test_rate_ci_is_the_exact_poisson_interval() -> None:
    estimate = rate_ci(100, 10.0, 0.95)
    assert estimate.value == 10.0
    assert estimate.lo == pytest.approx(8.136, abs=1e-3) and estimate.hi == pytest.approx(12.163, abs=1e-3)
    zero = rate_ci(0, 10.0, 0.95)
    assert zero.lo == 0.0 and zero.hi == pytest.approx(-math.log(0.025) / 10.0)
    assert math.isnan(rate_ci(3, 0.0).value)


def test_percentile_table_on_sorted_data() -> None:
    ordered = np.arange(1.0, 101.0)
    table = percentile_table(ordered)
    assert table["p50"] == pytest.approx(50.5) and table["max"] == 100.0 and table["n"] == 100
    assert math.isnan(percentile_table(np.empty(0))["p99"])
