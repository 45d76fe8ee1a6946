"""A slope over time with an interval honest about serially correlated samples.

Telemetry samples a second apart (RSS, open descriptors) and requests in time order are not
independent: an ordinary least-squares interval over them would be far too narrow, and a soak
would call noise a leak. The series is cut into consecutive batches; the batch means are far
less correlated than the samples, and the slope is fitted to them with a t interval on
`batches - 2` degrees of freedom (the batch-means method of simulation output analysis).
scipy's `linregress` gives the slope and its standard error; the batching is ours because no
library offers a batch-means regression.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats as sps

from harness.analysis.stats import NAN_ESTIMATE, Estimate

MAX_BATCHES = 10
MIN_BATCHES = 4  # 2 degrees of freedom: below that a t interval is no bound at all
MIN_PER_BATCH = 3
CORRELATION_TIMES_PER_BATCH = 3  # batch means this many correlation times long are nearly independent


def batch_count(t: np.ndarray, values: np.ndarray) -> int:
    """As many batches as the series' serial correlation allows, within [MIN, MAX]: each batch
    spans a few correlation times, estimated from the lag-1 autocorrelation of the residuals
    of a plain fit (AR(1)'s (1 + r) / (1 - r)). Measured coverage of the 90% interval on AR(1)
    noise with r up to 0.9: 83-91% (tests/harness/test_trend.py)."""
    fit = sps.linregress(t, values)
    residuals = values - (fit.intercept + fit.slope * t)
    with np.errstate(invalid="ignore", divide="ignore"):  # residuals of an exact line: no correlation to speak of
        r1 = float(np.corrcoef(residuals[:-1], residuals[1:])[0, 1])
    r1 = 0.0 if math.isnan(r1) else min(max(r1, 0.0), 0.99)
    per_batch = max(MIN_PER_BATCH, math.ceil(CORRELATION_TIMES_PER_BATCH * (1 + r1) / (1 - r1)))
    return int(np.clip(t.size // per_batch, MIN_BATCHES, MAX_BATCHES))


def slope_estimate(t: np.ndarray, values: np.ndarray, confidence: float) -> Estimate:
    """Slope of `values` per unit of `t`, each interval end a one-sided bound at `confidence`.
    NaN (no estimate) with fewer than MIN_BATCHES × MIN_PER_BATCH finite samples."""
    keep = np.isfinite(t) & np.isfinite(values)
    order = np.argsort(t[keep], kind="stable")
    t, values = t[keep][order], values[keep][order]
    if t.size < MIN_BATCHES * MIN_PER_BATCH or np.ptp(t) == 0:
        return NAN_ESTIMATE
    batches = batch_count(t, values)
    groups = np.array_split(np.arange(t.size), batches)
    t_means = np.array([t[g].mean() for g in groups])
    v_means = np.array([values[g].mean() for g in groups])
    fit = sps.linregress(t_means, v_means)
    stderr = 0.0 if math.isnan(fit.stderr) else fit.stderr
    half = float(sps.t.ppf(confidence, batches - 2)) * stderr
    return Estimate(float(fit.slope), float(fit.slope) - half, float(fit.slope) + half, int(t.size),
                    n_effective=float(batches),
                    method=f"least-squares slope over {batches} batch means of {t.size} samples, t interval")
