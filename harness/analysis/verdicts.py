"""SLO verdicts: pass, fail or inconclusive, from two one-sided bounds at the run's confidence.

pass when the unfavourable bound meets the threshold, fail when the favourable bound misses
it, inconclusive otherwise. A percentile below LoadGen's minimum n (counted in independent
requests: the effective n where the samples were autocorrelated) can fail but never pass.
Where the samples are autocorrelated a percentile SLO is judged at its threshold: `p90 <
50ms` passes when the lower bound on the share of requests under 50 ms exceeds 90%, at the
effective n of that share (under independence the two tests are the same test).
Failed requests count as +inf in censored metrics, so a latency SLO cannot pass while
requests fail; the reason then says how many did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from harness.analysis.estimators import (count_estimate, max_estimate, mean_estimate, quantile_estimate, rate_estimate,
                                         share_beyond)
from harness.analysis.samples import Sample
from harness.analysis.slo import OPS, SLO
from harness.analysis.spec import Scalar
from harness.analysis.stats import NAN_ESTIMATE, Estimate, bounds_level, min_samples_for_percentile

_NEGATED = {"<": "≥", "<=": ">", ">": "≤", ">=": "<"}


class SampleSource(Protocol):
    """What an SLO evaluation reads: the judged samples of a metric and the measured window."""

    duration_s: float

    def judged(self, metric: str) -> Sample: ...


def evaluate_slo(slo: SLO, source: SampleSource, scalars: Mapping[str, Scalar], confidence: float) -> dict[str, Any]:
    """One verdict with its estimate, one-sided bounds at `confidence`, n and the reason."""
    if slo.stat is None:
        if slo.metric not in scalars:
            return _result(slo, NAN_ESTIMATE, confidence, "inconclusive", "not measured in this run")
        estimate = _scalar_estimate(scalars[slo.metric])
        return _result(slo, estimate, confidence, *_judge(slo, estimate, confidence, 0))
    sample = source.judged(slo.metric)
    estimate = _sample_estimate(slo, sample, source.duration_s, confidence)
    if slo.q is not None and sample.dependence.batches:
        verdict, reason, estimate = _judge_at_threshold(slo, sample, estimate, confidence)
    else:
        verdict, reason = _judge(slo, estimate, confidence, _needed_samples(slo, confidence))
    censored = sample.censored if slo.stat not in ("count", "rate") else 0
    return _result(slo, estimate, confidence, verdict, _with_censored(reason, censored))


def _with_censored(reason: str, censored: int) -> str:
    if censored:
        reason += f"; {censored} failed request{'s' if censored > 1 else ''} count as slower than any value"
    return reason


def _result(slo: SLO, estimate: Estimate, confidence: float, verdict: str, reason: str) -> dict[str, Any]:
    return {
        "expr": slo.expr,
        "verdict": verdict,
        "estimate": estimate.value,
        "ci": [estimate.lo, estimate.hi],
        "confidence": confidence,
        "n": estimate.n,
        "n_effective": estimate.n_effective,
        "method": estimate.method,
        "unit": slo.unit,
        "threshold": slo.threshold,
        "op": slo.op,
        "reason": reason,
    }


def _sample_estimate(slo: SLO, sample: Sample, duration_s: float, confidence: float) -> Estimate:
    level = bounds_level(confidence)
    if slo.stat == "count":
        return count_estimate(sample)
    if slo.stat == "rate":
        return rate_estimate(sample, duration_s, level)
    if slo.stat == "max":
        return max_estimate(sample)
    if slo.stat == "mean":
        return mean_estimate(sample, level)
    return quantile_estimate(sample, slo.q, level)


def _scalar_estimate(scalar: Scalar) -> Estimate:
    n = 1 if scalar.n is None else scalar.n
    if scalar.ci is None:
        return Estimate.observed(scalar.value, n)
    return Estimate(scalar.value, scalar.ci[0], scalar.ci[1], n, n_effective=scalar.n_effective, method=scalar.method)


def _needed_samples(slo: SLO, confidence: float) -> int:
    """LoadGen's minimum n; for `pN > X` the lower tail (1 - q) is the one to certify."""
    if slo.q is None:
        return 0
    tail = slo.q if slo.op in ("<", "<=") else 1.0 - slo.q
    return min_samples_for_percentile(tail, confidence)


def _judge(slo: SLO, estimate: Estimate, confidence: float, needed: int) -> tuple[str, str]:
    below_is_good = slo.op in ("<", "<=")
    worst, best = (estimate.hi, estimate.lo) if below_is_good else (estimate.lo, estimate.hi)
    holds = OPS[slo.op]
    exact = estimate.exact
    level = f"{confidence * 100:g}%"
    if math.isnan(estimate.value) and math.isnan(best):
        return "inconclusive", _missing_reason(slo, estimate)
    if not math.isnan(best) and not holds(best, slo.threshold):
        what = f"observed {_describe(slo)}" if exact else f"{'lower' if below_is_good else 'upper'} {level} bound"
        return "fail", f"{what} {_fmt(best, slo.unit)} {_NEGATED[slo.op]} {_fmt(slo.threshold, slo.unit)}"
    effective = estimate.n if estimate.n_effective is None else estimate.n_effective
    if effective < needed and math.isnan(worst):  # a bound that exists already says the evidence suffices
        counted = f"n={estimate.n}" if estimate.n_effective is None else (
            f"effective n={estimate.n_effective:.0f} of {estimate.n} (autocorrelated)")
        return "inconclusive", f"{counted} < {needed} needed to certify {slo.stat} at {level} confidence"
    if not math.isnan(worst) and holds(worst, slo.threshold):
        what = f"observed {_describe(slo)}" if exact else f"{'upper' if below_is_good else 'lower'} {level} bound"
        return "pass", f"{what} {_fmt(worst, slo.unit)} {slo.op} {_fmt(slo.threshold, slo.unit)}"
    bounds = f"[{_fmt(estimate.lo, slo.unit)}, {_fmt(estimate.hi, slo.unit)}]"
    return "inconclusive", f"{level} bounds {bounds} straddle {_fmt(slo.threshold, slo.unit)}"


_GOOD_SIDE = {"<": ("under", np.less), "<=": ("at or under", np.less_equal),
              ">": ("over", np.greater), ">=": ("at or over", np.greater_equal)}


def _judge_at_threshold(slo: SLO, sample: Sample, estimate: Estimate, confidence: float) -> tuple[str, str, Estimate]:
    """A percentile SLO of autocorrelated samples, judged by the share of values on its good
    side of the threshold; the estimate keeps the percentile and its interval for the report,
    and takes the share's effective n and method."""
    side, compare = _GOOD_SIDE[slo.op]
    required = slo.q if slo.op in ("<", "<=") else 1.0 - slo.q
    share = share_beyond(sample, compare(sample.in_time, slo.threshold), bounds_level(confidence))
    level = f"{confidence * 100:g}%"
    counted = "requests" if sample.units == sample.size else "values"
    what = f"share of {counted} {side} {_fmt(slo.threshold, slo.unit)}"
    evidence = f"(observed {_fmt(share.value, 'ratio')}; effective n={share.n_effective:.0f} of {share.n}; samples autocorrelated)"
    if share.lo > required:
        verdict, reason = "pass", f"lower {level} bound on the {what} {_fmt(share.lo, 'ratio')} > {_fmt(required, 'ratio')}"
    elif share.hi < required:
        verdict, reason = "fail", f"upper {level} bound on the {what} {_fmt(share.hi, 'ratio')} < {_fmt(required, 'ratio')}"
    else:
        bounds = f"[{_fmt(share.lo, 'ratio')}, {_fmt(share.hi, 'ratio')}]"
        verdict, reason = "inconclusive", f"{level} bounds on the {what} {bounds} straddle {_fmt(required, 'ratio')}"
    judged = replace(estimate, n_effective=share.n_effective, method=f"{estimate.method}; judged by the {share.method}")
    return verdict, f"{reason} {evidence}", judged


def _missing_reason(slo: SLO, estimate: Estimate) -> str:
    if estimate.n == 0:
        return "no requests after warm-up"
    return "no measured time window to divide by"


def _describe(slo: SLO) -> str:
    return slo.metric if slo.stat is None else f"{slo.stat}({slo.metric})"


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞"
    if unit == "ratio":
        return f"{value * 100:.6g}%"
    if unit == "count":
        return f"{value:g}"
    return f"{value:.4g} {unit}"
