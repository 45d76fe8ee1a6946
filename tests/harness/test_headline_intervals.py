"""The headline percentiles' intervals (summary.json's `latency_ci_ms`, which the run history
stores and its trend plot draws): order-statistic bounds that rise with the quantile, and at
95% cover the true quantiles of a known distribution about 95% of the time."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.estimators import headline_intervals
from harness.analysis.samples import Sample
from harness.analysis.stats import HEADLINE_QUANTILES, percentile_table

EXPONENTIAL_QUANTILES = {name: -math.log(1 - q) for name, q in HEADLINE_QUANTILES.items()}  # Exp(1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=1e4), min_size=1, max_size=300))
def test_the_bounds_are_values_of_the_sample_rising_with_the_quantile(values):
    sample = Sample.of(np.array(values))
    intervals = headline_intervals(sample, 0.95)
    bounds = np.array(list(intervals.values()))  # a NaN bound: too few values to bound that side
    assert all(np.isnan(bound) or bound in sample.ordered for bound in bounds.ravel())
    assert not (bounds[:, 0] > bounds[:, 1]).any()
    for side in (0, 1):
        finite = bounds[:, side][np.isfinite(bounds[:, side])]
        assert (np.diff(finite) >= 0).all()
    # the median's interval holds the median whenever both of its bounds exist
    lo, hi = intervals["p50"]
    median = percentile_table(sample.ordered)["p50"]
    assert not lo > median and not median > hi


def test_the_intervals_cover_the_true_quantiles_at_their_level():
    rng = np.random.default_rng(11)
    rounds, covered = 200, dict.fromkeys(("p50", "p90", "p99"), 0)
    for _ in range(rounds):
        intervals = headline_intervals(Sample.of(rng.exponential(size=2000)), 0.95)
        for name in covered:
            lo, hi = intervals[name]
            covered[name] += lo <= EXPONENTIAL_QUANTILES[name] <= hi
    # 95% intervals: in 200 rounds a coverage under 89% has odds below 1 in 10^4
    assert all(count / rounds >= 0.89 for count in covered.values()), covered


def test_no_values_no_intervals():
    intervals = headline_intervals(Sample.of(np.array([])), 0.95)
    assert set(intervals) == set(HEADLINE_QUANTILES) and all(math.isnan(b) for pair in intervals.values() for b in pair)
