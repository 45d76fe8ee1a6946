"""How much independent evidence a run's samples hold, when they are not independent.

Open-loop latencies are autocorrelated: one stall slows hundreds of consecutive requests,
and failures come in bursts. The binomial, Clopper-Pearson and Poisson intervals assume
independence and are too narrow exactly then. Here, a time-ordered series is cut into
consecutive batches; the variance of the batch means of an indicator (a request at or below
a quantile, a request that failed) against its variance under independence gives an
effective sample size, and the exact intervals are then taken at that size (batch means,
as in simulation output analysis). By hand because scipy has no batch-means estimator and
its block bootstrap costs a thousand resorts of every run.

Dependence is tested by the lag-1 autocorrelation of the series' ranks (ranks: failures
count as +inf); where it is not significant the plain exact intervals stand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

# Few, long batches: on simulated stalled queues, 30 batches of a 10,000-request run
# underestimated the variance at p99 by a third (adjacent batches still shared stalls) and
# its upper bound covered in 89% of runs; 8 batches, with the variance re-read at the
# bound itself, cover in 93-95% at p50, p90 and p99 (tests/harness/test_dependence.py).
MAX_BATCHES = 8
MIN_BATCH_SIZE = 25
MIN_SAMPLES = 200  # below this there are too few values per batch to estimate a variance from


@dataclass(frozen=True)
class Dependence:
    """What a series' time order says about its information content."""

    autocorrelation: float  # lag-1, of the ranks; NaN when not estimable
    significant: bool
    batches: int  # how many consecutive batches a variance comes from; 0 when independence is assumed

    @property
    def method(self) -> str:
        if not self.batches:
            return "independent samples"
        return f"batch means over {self.batches} batches (lag-1 autocorrelation {self.autocorrelation:.2f})"


INDEPENDENT = Dependence(math.nan, False, 0)


def assess(in_time: np.ndarray, confidence: float, *, grouped: bool = False) -> Dependence:
    """Is the lag-1 autocorrelation of the time-ordered ranks significantly positive?

    `grouped` values (several per request, such as inter-token gaps) are dependent by
    construction: they always get batch means when there are enough of them."""
    n = in_time.size
    if n < MIN_SAMPLES:
        return INDEPENDENT
    r1 = _lag1_rank_autocorrelation(in_time)
    significant = grouped or (not math.isnan(r1) and r1 > float(sps.norm.ppf(confidence)) / math.sqrt(n))
    return Dependence(r1, significant, batch_count(n) if significant else 0)


def _lag1_rank_autocorrelation(in_time: np.ndarray) -> float:
    ranks = sps.rankdata(in_time)  # +inf (a censored failure) ranks above every answer
    centred = ranks - ranks.mean()
    denominator = float(np.dot(centred, centred))
    return math.nan if denominator == 0.0 else float(np.dot(centred[:-1], centred[1:]) / denominator)


def batch_count(n: int) -> int:
    return int(min(MAX_BATCHES, max(2, n // MIN_BATCH_SIZE)))


def batch_edges(n: int, batches: int) -> np.ndarray:
    return np.linspace(0, n, batches + 1).round().astype(np.int64)


def quantile_effective_sizes(in_time: np.ndarray, estimates: np.ndarray, dependence: Dependence) -> np.ndarray | None:
    """The effective sample size behind each estimated quantile: from the batch means of the
    indicator "at or below the estimate". None under independence."""
    if not dependence.batches:
        return None
    edges = batch_edges(in_time.size, dependence.batches)
    counts = np.stack([np.searchsorted(np.sort(in_time[a:b]), estimates, side="right")
                       for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return _effective(counts, np.diff(edges), in_time.size)


def indicator_effective_size(indicator_in_time: np.ndarray, dependence: Dependence) -> float | None:
    """The effective sample size behind a proportion (say, of failed requests). None under independence."""
    if not dependence.batches:
        return None
    edges = batch_edges(indicator_in_time.size, dependence.batches)
    counts = np.add.reduceat(indicator_in_time.astype(np.float64), edges[:-1])[:, None]
    return float(_effective(counts, np.diff(edges), indicator_in_time.size)[0])


def _effective(counts: np.ndarray, sizes: np.ndarray, n: int) -> np.ndarray:
    """n × (variance of a proportion under independence) / (its batch-means variance),
    never above n; a variance estimated from few batches is itself uncertain, so the ratio
    is shrunk by (z/t)² with the batches' degrees of freedom."""
    batches = sizes.size
    means = counts / sizes[:, None]
    overall = counts.sum(axis=0) / n
    spread = ((means - overall) ** 2 * sizes[:, None]).sum(axis=0) / (batches - 1) / n
    independent = overall * (1.0 - overall) / n
    shrink = (sps.norm.ppf(0.975) / sps.t.ppf(0.975, batches - 1)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spread > independent, independent / spread * shrink, 1.0)
    return np.minimum(float(n), n * ratio)


def batch_means(in_time: np.ndarray, dependence: Dependence) -> np.ndarray:
    """The mean of each consecutive batch (for a t-interval on the mean of dependent data)."""
    edges = batch_edges(in_time.size, dependence.batches)
    return np.add.reduceat(in_time, edges[:-1]) / np.diff(edges)


def overdispersion(times_s: np.ndarray, window: tuple[float, float], confidence: float) -> float | None:
    """For events (completions) in `window`, the index of dispersion of their counts over
    consecutive time batches when it is significantly above the Poisson 1 (bursts); else None."""
    start, end = window
    batches = batch_count(times_s.size)
    if times_s.size < MIN_SAMPLES or not end > start:
        return None
    counts = np.histogram(times_s, bins=batches, range=(start, end))[0].astype(np.float64)
    mean = counts.mean()
    index = float(counts.var(ddof=1) / mean) if mean > 0 else 0.0
    critical = float(sps.chi2.ppf(confidence, batches - 1)) / (batches - 1)
    return index if index > critical else None
