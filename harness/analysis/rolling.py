"""Rolling windows over a run's timeline: is the service healthy at each moment?

A moment t is judged by the requests intended in (t - window, t]: each health criterion (a
percentile or mean of a per-request metric, or the share of failed requests) must hold
there. Failed requests count as +inf in latency-type metrics, as everywhere in analysis,
so a window where everything fails fast is not healthy. A window with no requests is
unknown (neither healthy nor a breach). These point figures carry no interval: they
locate moments (a breach, a recovery); the verdicts on windows of the run carry them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.analysis.metrics import get_metric
from harness.analysis.samples import RunSamples
from harness.analysis.slo import OPS, SLO

STEPS_PER_WINDOW = 4
TIMELINE_QUANTILE = 0.99  # the rolling percentile the report draws


@dataclass(frozen=True)
class Criterion:
    """One condition a rolling window must meet; from an SLO such as p99(latency) < 50ms."""

    expr: str
    metric: str | None  # a per-request metric; None: the share of failed requests
    q: float | None  # the percentile; None: the mean (or the failure share)
    op: str
    threshold: float

    @classmethod
    def from_slo(cls, slo: SLO) -> Criterion | None:
        """The rolling form of an SLO, where it has one (a cohort's SLO judges only some requests: none)."""
        if slo.cohort is not None:
            return None
        if slo.stat is None and slo.metric in ("availability", "error_rate"):
            if slo.metric == "availability":  # availability >= A  <=>  failure share <= 1 - A
                return cls(slo.expr, None, None, "<=" if slo.op in (">", ">=") else ">=", 1.0 - slo.threshold)
            return cls(slo.expr, None, None, slo.op, slo.threshold)
        metric = get_metric(slo.metric) if slo.stat is not None else None
        if metric is None or metric.pooled or (slo.q is None and slo.stat != "mean"):
            return None
        return cls(slo.expr, slo.metric, slo.q, slo.op, slo.threshold)


@dataclass(frozen=True)
class Rolling:
    t_s: np.ndarray  # each window's end, seconds from t0
    requests: np.ndarray  # intended in the window
    ok: np.ndarray  # of them, successful
    failed_share: np.ndarray
    p99_ms: np.ndarray  # rolling p99 of latency, failures as +inf (what the report draws)
    healthy: np.ndarray  # bool; False also where a window is unknown
    breach: np.ndarray  # bool: some criterion is missed (False where unknown)
    window_s: float

    @property
    def step_s(self) -> float:
        return self.window_s / STEPS_PER_WINDOW


def roll(samples: RunSamples, criteria: list[Criterion], span: tuple[float, float], window_s: float) -> Rolling:
    start, end = span
    step = window_s / STEPS_PER_WINDOW
    ends = np.arange(start + window_s, end + step / 2, step) if end - start >= window_s else np.array([end])
    order = samples.measured_in_time(np.arange(samples.ok.size))
    times = samples.times_s[order]
    ok = samples.ok[order]
    lo = np.searchsorted(times, ends - window_s, side="right")
    hi = np.searchsorted(times, ends, side="right")
    requests = hi - lo
    ok_cum = np.concatenate([[0], np.cumsum(ok)])
    ok_count = ok_cum[hi] - ok_cum[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        failed_share = np.where(requests > 0, 1.0 - ok_count / requests, np.nan)
    latency = np.where(ok, samples.values("latency")[order], np.inf)
    p99 = _rolling_statistic(latency, lo, hi, TIMELINE_QUANTILE)
    breach = np.zeros(ends.size, dtype=bool)
    for criterion in criteria:
        breach |= _misses(criterion, samples, order, ok, failed_share, lo, hi)
    known = requests > 0
    return Rolling(ends, requests, ok_count, failed_share, p99, known & ~breach, known & breach, window_s)


def _misses(criterion: Criterion, samples: RunSamples, order: np.ndarray, ok: np.ndarray,
            failed_share: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    if criterion.metric is None:
        value = failed_share
    else:
        raw = samples.values(criterion.metric)[order]
        censored = get_metric(criterion.metric).censored
        values = np.where(ok, raw, np.inf) if censored else raw
        value = _rolling_statistic(values, lo, hi, criterion.q)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(value) & ~OPS[criterion.op](value, criterion.threshold)


def _rolling_statistic(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, q: float | None) -> np.ndarray:
    """The q-quantile (an order statistic: no interpolation across +inf) or the mean per window."""
    out = np.full(lo.size, np.nan)
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        chunk = values[a:b]
        chunk = chunk[~np.isnan(chunk)]
        if chunk.size:
            out[i] = np.quantile(chunk, q, method="inverted_cdf") if q is not None else float(chunk.mean())
    return out


def first_at_or_after(t_s: np.ndarray, flags: np.ndarray, start_s: float) -> float:
    """The first window end ≥ start_s whose flag is set; nan when none is."""
    hits = np.flatnonzero(flags & (t_s >= start_s))
    return float(t_s[hits[0]]) if hits.size else math.nan


def settled_at(rolling: Rolling, start_s: float, hold_s: float) -> float:
    """The first window end ≥ start_s from which every window stays healthy for `hold_s`;
    +inf when the run never shows that (a recovery the run ended too soon to confirm included)."""
    t, healthy = rolling.t_s, rolling.healthy
    if not t.size:
        return math.inf
    next_unhealthy = np.minimum.accumulate(np.where(healthy, np.inf, t)[::-1])[::-1]
    settled = healthy & (t >= start_s) & (next_unhealthy > t + hold_s) & (t + hold_s <= t[-1] + 1e-9)
    hits = np.flatnonzero(settled)
    return float(t[hits[0]]) if hits.size else math.inf
