"""Confidence intervals that SLO verdicts can rest on (pure numpy/scipy, no I/O).

Percentile intervals are distribution-free: they come from binomial order statistics, so
they hold for any latency distribution, however skewed or multimodal. Where n is too small
for a bound to exist, the bound is NaN; nothing pretends.

Every interval function takes a two-sided `confidence`. SLO verdicts need one-sided bounds:
`bounds_level(c)` is the two-sided level whose two ends are each a one-sided bound at `c`
(all intervals here are equal-tailed, so that identity is exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

ProportionMethod = Literal["wilson", "clopper-pearson"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its interval [lo, hi] (NaN where a bound cannot be given)."""

    value: float
    lo: float
    hi: float
    n: int
    exact: bool = False
    n_effective: float | None = None  # where dependence shrank the evidence: the independent-equivalent n
    method: str = ""

    @classmethod
    def observed(cls, value: float, n: int) -> Estimate:
        """A fact of the run itself (max, count), not an estimate of anything wider."""
        return cls(value, value, value, n, exact=True)


NAN_ESTIMATE = Estimate(math.nan, math.nan, math.nan, 0)


def bounds_level(confidence: float) -> float:
    """The two-sided level whose ends are each one-sided bounds at `confidence`."""
    return 2.0 * confidence - 1.0


def sorted_finite(samples: np.ndarray) -> np.ndarray:
    values = np.asarray(samples, dtype=np.float64)
    return np.sort(values[np.isfinite(values)])


def order_statistic_ranks(n: int, qs: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks (l, u) with P(x_(l) <= Q_q <= x_(u)) >= confidence, equal-tailed.

    P(x_(l) > Q_q) = P(Binom(n, q) <= l-1) and P(x_(u) < Q_q) = P(Binom(n, q) >= u), so l is
    the largest rank whose left tail stays below alpha/2 and u the smallest whose right tail
    does. A rank of 0 (no lower bound) or n+1 (no upper bound) means n is too small.
    """
    qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    tail = (1.0 - confidence) / 2.0
    if n <= 0:
        return np.zeros(qs.shape, np.int64), np.ones(qs.shape, np.int64)
    lower = sps.binom.ppf(tail, n, qs).astype(np.int64)
    # ppf is computed in floating point; step back where it overshot the tail.
    lower = np.where(sps.binom.cdf(lower - 1, n, qs) >= tail, lower - 1, lower)
    upper = sps.binom.ppf(1.0 - tail, n, qs).astype(np.int64) + 1
    upper = np.where(sps.binom.cdf(upper - 1, n, qs) < 1.0 - tail, upper + 1, upper)
    return np.clip(lower, 0, n + 1), np.clip(upper, 0, n + 1)


def effective_ranks(n: int, qs: np.ndarray, confidence: float, n_effective: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Order-statistic ranks in a sample of n whose information is that of `n_effective`
    independent draws: the exact ranks at the effective size, scaled to n (outwards)."""
    if n_effective is None:
        return order_statistic_ranks(n, qs, confidence)
    qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    sizes = np.clip(np.floor(np.broadcast_to(n_effective, qs.shape)), 0, n).astype(np.int64)
    lower, upper = np.zeros(qs.shape, np.int64), np.full(qs.shape, n + 1, np.int64)
    for m in np.unique(sizes):
        at = sizes == m
        lo_m, hi_m = order_statistic_ranks(int(m), qs[at], confidence)
        scale = (n + 1) / (m + 1)
        lower[at] = np.where(lo_m == 0, 0, np.floor(lo_m * scale))
        upper[at] = np.where(hi_m == m + 1, n + 1, np.ceil(hi_m * scale))
    return np.clip(lower, 0, n + 1), np.clip(upper, 0, n + 1)


def sorted_quantiles(ordered: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Sample quantiles of already sorted data (numpy's default 'linear' definition).

    +inf (a failed request) is a value like any other: a quantile that falls among the
    failures is +inf, one between the last answer and the first failure too."""
    qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
    n = ordered.size
    if n == 0:
        return np.full(qs.shape, np.nan)
    position = qs * (n - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    weight = position - below
    with np.errstate(invalid="ignore"):
        mixed = ordered[below] * (1.0 - weight) + ordered[above] * weight
    return np.where(weight > 0, mixed, ordered[below])  # inf × 0 is NaN, not the lower value


def quantile_cis(ordered: np.ndarray, qs: np.ndarray, confidence: float,
                 n_effective: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(estimates, lo, hi) for many quantiles of already sorted data (failures at +inf)."""
    n = ordered.size
    lower, upper = effective_ranks(n, qs, confidence, n_effective)
    padded = np.concatenate(([np.nan], ordered, [np.nan]))  # rank 0 and n+1 read as NaN
    return sorted_quantiles(ordered, qs), padded[lower], padded[upper]


def quantile_ci(samples: np.ndarray, q: float, confidence: float = 0.95, *, presorted: bool = False) -> Estimate:
    """Sample quantile with a distribution-free interval of coverage >= `confidence`."""
    ordered = np.asarray(samples, dtype=np.float64) if presorted else sorted_finite(samples)
    values, lo, hi = quantile_cis(ordered, np.array([q]), confidence)
    return Estimate(float(values[0]), float(lo[0]), float(hi[0]), int(ordered.size))


def quantile_upper_bound(samples: np.ndarray, q: float, confidence: float = 0.95, *, presorted: bool = False) -> float:
    """One-sided upper bound on the q-quantile: P(Q_q <= bound) >= confidence; NaN if n is too small."""
    return quantile_ci(samples, q, bounds_level(confidence), presorted=presorted).hi


def min_samples_for_percentile(q: float, confidence: float = 0.99) -> int:
    """LoadGen's zero-violation rule: the smallest n with q**n <= 1 - confidence.

    With fewer samples, even a run where no request exceeded the threshold cannot certify
    the percentile: the largest sample is not yet an upper bound at that confidence.
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"percentile must lie strictly between 0 and 1, got {q}")
    n = max(1, math.ceil(math.log(1.0 - confidence) / math.log(q)))
    while q**n > 1.0 - confidence:  # guard the float rounding of the logarithms
        n += 1
    while n > 1 and q ** (n - 1) <= 1.0 - confidence:
        n -= 1
    return n


def proportion_ci(k: float, n: float, confidence: float = 0.95, method: ProportionMethod = "wilson") -> tuple[float, float]:
    """Interval for a binomial proportion k/n; (0, hi) at k=0 and (lo, 1) at k=n; NaN when n=0.

    k and n may be fractional: an effective sample size keeps the failure fraction."""
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    tail = (1.0 - confidence) / 2.0
    if method == "clopper-pearson":
        lo = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
        hi = 1.0 if k == n else float(sps.beta.ppf(1.0 - tail, k + 1, n - k))
        return lo, hi
    if method == "wilson":
        z = float(sps.norm.ppf(1.0 - tail))
        p = k / n
        denominator = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        margin = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
        lo = 0.0 if k == 0 else max(0.0, centre - margin)
        hi = 1.0 if k == n else min(1.0, centre + margin)
        return lo, hi
    raise ValueError(f"unknown proportion method {method!r}: use 'wilson' or 'clopper-pearson'")


def share(k: int, n: int, confidence: float) -> dict:
    """k of n as a JSON-ready share with its Wilson bounds, each one-sided at `confidence`."""
    return {"k": k, "n": n, "share": k / n if n else math.nan,
            "ci": list(proportion_ci(k, n, 2 * confidence - 1)) if n else None}


def mean_ci(samples: np.ndarray, confidence: float = 0.95) -> Estimate:
    """Mean with a Student-t interval (NaN bounds below two samples)."""
    values = np.asarray(samples, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = int(values.size)
    if n == 0:
        return NAN_ESTIMATE
    mean = float(values.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n)
    half = float(sps.t.ppf(1.0 - (1.0 - confidence) / 2.0, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def rate_ci(count: int, duration_s: float, confidence: float = 0.95) -> Estimate:
    """Events per second with the exact (chi-square) Poisson interval."""
    if not duration_s > 0:
        return Estimate(math.nan, math.nan, math.nan, int(count))
    tail = (1.0 - confidence) / 2.0
    lo = 0.0 if count == 0 else float(sps.chi2.ppf(tail, 2 * count)) / 2.0
    hi = float(sps.chi2.ppf(1.0 - tail, 2 * count + 2)) / 2.0
    return Estimate(count / duration_s, lo / duration_s, hi / duration_s, int(count))


HEADLINE_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p99.9": 0.999}


def percentile_table(ordered: np.ndarray) -> dict[str, float | int]:
    """The headline percentiles, max, mean and n of already sorted data, and how many of
    its values are failures counted as +inf (`censored`)."""
    values = sorted_quantiles(ordered, np.array(list(HEADLINE_QUANTILES.values())))
    table: dict[str, float | int] = {name: float(v) for name, v in zip(HEADLINE_QUANTILES, values, strict=True)}
    table["max"] = float(ordered[-1]) if ordered.size else float("nan")
    table["mean"] = float(ordered.mean()) if ordered.size else float("nan")
    table["n"] = int(ordered.size)
    table["censored"] = int(np.isinf(ordered).sum())
    return table
