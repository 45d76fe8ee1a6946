"""A statistic of a judged Sample, with one-sided bounds that respect its dependence.

Quantiles: order-statistic bounds, at the effective sample size when the time-ordered
values are autocorrelated. Under dependence a quantile SLO is judged at its threshold
(`share_beyond`): the share of values on the good side of it, with exact bounds at the
effective n of that very indicator, since the evidence for "p90 < 50 ms" lies at 50 ms,
not at wherever the p90's own upper bound happens to fall. Means: a t-interval, over
batch means when autocorrelated; with any failure the mean is unbounded. Max and count: facts of the run. Every estimate
names its method and, where dependence cut the evidence, its effective n, in requests.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from harness.analysis.dependence import batch_means, indicator_effective_size, quantile_effective_sizes
from harness.analysis.samples import Sample
from harness.analysis.stats import (
    HEADLINE_QUANTILES,
    NAN_ESTIMATE,
    Estimate,
    mean_ci,
    proportion_ci,
    quantile_cis,
    rate_ci,
    sorted_quantiles,
)

ORDER_STATISTICS = "order statistics"


def quantile_estimates(sample: Sample, qs: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(estimates, lo, hi, effective n in requests or None) at two-sided `level`.

    Under dependence the effective size is read at the estimate, then again at each bound
    (the indicator's variance differs there; the estimate of a skewed tail sits low in a run
    that saw few stalls), and each bound takes the smaller."""
    qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    estimates = sorted_quantiles(sample.ordered, qs)
    n_effective = quantile_effective_sizes(sample.in_time, estimates, sample.dependence)
    _, lo, hi = quantile_cis(sample.ordered, qs, level, n_effective)
    if n_effective is None:
        return estimates, lo, hi, None
    lower_n = np.minimum(n_effective, quantile_effective_sizes(sample.in_time, _finite_or(lo, estimates), sample.dependence))
    upper_n = np.minimum(n_effective, quantile_effective_sizes(sample.in_time, _finite_or(hi, estimates), sample.dependence))
    lo = quantile_cis(sample.ordered, qs, level, lower_n)[1]
    hi = quantile_cis(sample.ordered, qs, level, upper_n)[2]
    return estimates, lo, hi, _in_units(np.where(np.isnan(hi), upper_n, np.minimum(lower_n, upper_n)), sample)


def _finite_or(bounds: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(bounds), bounds, fallback)


def quantile_estimate(sample: Sample, q: float, level: float) -> Estimate:
    if sample.size == 0:
        return NAN_ESTIMATE
    values, lo, hi, effective = quantile_estimates(sample, np.array([q]), level)
    return Estimate(float(values[0]), float(lo[0]), float(hi[0]), sample.units,
                    n_effective=None if effective is None else float(effective[0]),
                    method=f"{ORDER_STATISTICS}, {sample.dependence.method}")


def headline_intervals(sample: Sample, level: float) -> dict[str, list[float]]:
    """Two-sided intervals at `level` of the headline percentiles (p50 ... p99.9), by name:
    what a run's history plots its trend with."""
    if sample.size == 0:
        return {name: [math.nan, math.nan] for name in HEADLINE_QUANTILES}
    _, lo, hi, _ = quantile_estimates(sample, np.array(list(HEADLINE_QUANTILES.values())), level)
    return {name: [float(a), float(b)] for name, a, b in zip(HEADLINE_QUANTILES, lo, hi, strict=True)}


def share_beyond(sample: Sample, good: np.ndarray, level: float) -> Estimate:
    """The share of values for which `good` (a boolean per value, in time order) holds, with
    Clopper-Pearson bounds at the effective n of that indicator (n under independence).

    Test inversion makes this the quantile verdict itself: p90 < T holds exactly when more
    than 90% of values lie below T. Its effective n is read where the question is asked."""
    n = sample.size
    if n == 0:
        return NAN_ESTIMATE
    kept = int(good.sum())
    n_effective = indicator_effective_size(good, sample.dependence)
    size = float(n) if n_effective is None else n_effective
    lo, hi = proportion_ci(kept * size / n, size, level, "clopper-pearson")
    return Estimate(kept / n, lo, hi, sample.units,
                    n_effective=None if n_effective is None else float(_in_units(np.array([n_effective]), sample)[0]),
                    method=f"clopper-pearson at the threshold, {sample.dependence.method}")


def mean_estimate(sample: Sample, level: float) -> Estimate:
    if sample.size == 0:
        return NAN_ESTIMATE
    if sample.censored:
        return Estimate(math.inf, math.inf, math.inf, sample.units, method="failed requests count as +inf")
    if not sample.dependence.batches:
        estimate = mean_ci(sample.in_time, level)
        return Estimate(estimate.value, estimate.lo, estimate.hi, sample.units, method="t-interval, independent samples")
    means = batch_means(sample.in_time, sample.dependence)
    half = float(sps.t.ppf(1.0 - (1.0 - level) / 2.0, means.size - 1)) * float(means.std(ddof=1)) / math.sqrt(means.size)
    centre = float(sample.in_time.mean())
    return Estimate(centre, centre - half, centre + half, sample.units, n_effective=float(means.size),
                    method=f"t-interval, {sample.dependence.method}")


def max_estimate(sample: Sample) -> Estimate:
    if sample.size == 0:
        return NAN_ESTIMATE
    return Estimate.observed(float(sample.ordered[-1]), sample.units)


def count_estimate(sample: Sample) -> Estimate:
    """How many values were measured (answered requests, or every gap for a pooled metric)."""
    count = sample.size - sample.censored
    return Estimate.observed(float(count), count)


def rate_estimate(sample: Sample, duration_s: float, level: float) -> Estimate:
    count = sample.size - sample.censored
    return rate_ci(count, duration_s, level)


def _in_units(n_effective: np.ndarray, sample: Sample) -> np.ndarray:
    """Effective values → effective requests (a pooled metric has several values per request)."""
    return np.minimum(float(sample.units), n_effective * sample.units / max(sample.size, 1))
