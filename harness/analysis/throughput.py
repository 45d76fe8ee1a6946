"""Throughput and goodput: successful requests per second of measured schedule."""

from __future__ import annotations

import numpy as np

from harness.analysis.dependence import overdispersion
from harness.analysis.metrics import get_metric
from harness.analysis.samples import RunSamples
from harness.analysis.slo import OPS, SLO
from harness.analysis.stats import bounds_level, rate_ci
from harness.contracts import Scalar

_PER_REQUEST_STATS = ("mean", "max")


def per_request_criteria(slos: list[SLO]) -> list[SLO]:
    """SLOs whose threshold a single request can meet or miss (vLLM's goodput criteria); a
    cohort's SLO says nothing of the other requests."""
    return [
        slo
        for slo in slos
        if slo.stat is not None
        and slo.cohort is None
        and (slo.q is not None or slo.stat in _PER_REQUEST_STATS)
        and not get_metric(slo.metric).pooled
    ]


POISSON = "poisson-exact"


def rate_scalar(times_s: np.ndarray, samples: RunSamples, confidence: float) -> Scalar:
    """Events per second of the measured window, with the exact Poisson interval; when the
    events come in bursts (overdispersed counts over time), the scaled Poisson interval:
    the count is taken as D × Poisson(N / D), D the index of dispersion."""
    count = int(times_s.size)
    dispersion = overdispersion(times_s, samples.window_s, confidence)
    scale = 1.0 if dispersion is None else dispersion
    estimate = rate_ci(count / scale, samples.duration_s, bounds_level(confidence))
    method = POISSON if dispersion is None else f"scaled poisson (counts over time overdispersed ×{dispersion:.2f})"
    return Scalar(count / samples.duration_s if samples.duration_s > 0 else float("nan"), "req/s",
                  (estimate.lo * scale, estimate.hi * scale), count, None if dispersion is None else count / scale, method)


def throughput_scalars(samples: RunSamples, slos: list[SLO], confidence: float) -> dict[str, Scalar]:
    """Goodput counts the judged requests that meet every per-request threshold.

    A NaN value means the metric is undefined for that request (the TPOT of a one-token
    reply): it meets the criterion, as in vLLM, rather than silently failing it.
    """
    good = samples.judged_rows.copy()
    for slo in per_request_criteria(slos):
        values = samples.values(slo.metric)
        good &= OPS[slo.op](values, slo.threshold) | np.isnan(values)
    return {
        "throughput": rate_scalar(samples.times_s[samples.judged_rows], samples, confidence),
        "goodput": rate_scalar(samples.times_s[good], samples, confidence),
    }
