"""Arrays the report draws: per-second counts, a bounded latency scatter, the latency CDF.

Everything is bounded in size so that plotting a million-request run stays cheap.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.analysis.estimators import quantile_estimates
from harness.analysis.samples import Sample
from harness.analysis.stats import bounds_level
from harness.clock import NS_PER_S

MAX_SCATTER_POINTS = 20_000
TAIL_FRACTION = 0.001  # the slowest 0.1% are always drawn: more would paint a false mode
CDF_POINTS = 120


def _seconds(ns: np.ndarray, bins: int) -> np.ndarray:
    return np.clip(ns // NS_PER_S, 0, bins - 1).astype(np.int64)


def per_second(records: pd.DataFrame, ok: np.ndarray, end_s: float) -> dict:
    """Requests scheduled, sent and completed successfully, and failures by kind, per second."""
    bins = max(1, math.ceil(end_s))
    done = records["done_ns"].to_numpy(np.int64)
    failed_kinds, kinds = pd.factorize(records["error_kind"].to_numpy(dtype=object)[~ok], sort=True)
    failed_bins = failed_kinds * bins + _seconds(done[~ok], bins)
    errors = np.bincount(failed_bins, minlength=len(kinds) * bins).reshape(len(kinds), bins)
    return {
        "t_s": np.arange(bins, dtype=np.float64),
        "scheduled": np.bincount(_seconds(records["intended_ns"].to_numpy(np.int64), bins), minlength=bins),
        "sent": np.bincount(_seconds(records["sent_ns"].to_numpy(np.int64), bins), minlength=bins),
        "ok": np.bincount(_seconds(done[ok], bins), minlength=bins),
        "errors_by_kind": {str(kind): errors[i] for i, kind in enumerate(kinds)},
    }


def scatter_rows(latency_ms: np.ndarray, ok: np.ndarray, max_points: int = MAX_SCATTER_POINTS) -> np.ndarray:
    """Row indices to draw: an even stride sample, plus the slowest 0.1% and the failures,
    which a stride sample would thin out exactly where readers look. Deterministic."""
    n = latency_ms.size
    if n <= max_points:
        return np.arange(n)
    keep = max_points // 4
    tail = min(keep, math.ceil(n * TAIL_FRACTION))
    ranked = np.where(np.isfinite(latency_ms), latency_ms, -np.inf)
    slowest = np.argpartition(ranked, n - tail)[n - tail :]
    failures = np.flatnonzero(~ok)
    failures = failures[:: max(1, math.ceil(failures.size / keep))]
    stride = np.arange(0, n, math.ceil(n / (max_points - 2 * keep)))
    return np.union1d(np.union1d(slowest, failures), stride)


def latency_scatter(records: pd.DataFrame, latency_ms: np.ndarray, ok: np.ndarray, warmup: np.ndarray) -> dict:
    rows = scatter_rows(latency_ms, ok)
    sampled = rows.size < latency_ms.size
    return {
        "sampling": f"stride sample + slowest {TAIL_FRACTION:.1%} + failures" if sampled else None,
        "t_s": records["intended_ns"].to_numpy(np.int64)[rows] / NS_PER_S,
        "latency_ms": latency_ms[rows],
        "ok": ok[rows],
        "warmup": warmup[rows],
        "total": int(latency_ms.size),
    }


def latency_cdf(sample: Sample, confidence: float) -> dict:
    """Quantiles from the minimum to 1 - 1/n on a log grid of tail fractions, with the
    bounds the verdicts use (each one-sided at `confidence`). Failed requests count in n as
    +inf, so the curve ends where they begin."""
    n = sample.size
    if n == 0:
        empty = np.empty(0)
        return {"q": empty, "latency_ms": empty, "lo": empty, "hi": empty, "n": 0}
    qs = 1.0 - np.logspace(0.0, -math.log10(n), CDF_POINTS) if n > 1 else np.array([0.5])
    values, lo, hi, _ = quantile_estimates(sample, qs, bounds_level(confidence))
    shown = np.isfinite(values)
    return {"q": qs[shown], "latency_ms": values[shown], "lo": lo[shown], "hi": hi[shown], "n": int(n)}
