"""Throughput and goodput: successful requests per second of measured schedule."""

from __future__ import annotations

import numpy as np

from harness.analysis.metrics import get_metric
from harness.analysis.samples import RunSamples
from harness.analysis.slo import OPS, SLO
from harness.contracts import Scalar
from harness.analysis.stats import bounds_level, rate_ci

_PER_REQUEST_STATS = ("mean", "max")


def per_request_criteria(slos: list[SLO]) -> list[SLO]:
    """SLOs whose threshold a single request can meet or miss (vLLM's goodput criteria)."""
    return [
        slo
        for slo in slos
        if slo.stat is not None
        and (slo.q is not None or slo.stat in _PER_REQUEST_STATS)
        and not get_metric(slo.metric).pooled
    ]


def rate_scalar(count: int, duration_s: float, confidence: float) -> Scalar:
    estimate = rate_ci(count, duration_s, bounds_level(confidence))
    return Scalar(estimate.value, "req/s", (estimate.lo, estimate.hi), count)


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
        "throughput": rate_scalar(int(samples.judged_rows.sum()), samples.duration_s, confidence),
        "goodput": rate_scalar(int(good.sum()), samples.duration_s, confidence),
    }
