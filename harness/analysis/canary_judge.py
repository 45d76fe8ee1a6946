"""The canary judge: a candidate version against its baseline, on per-request data gathered
under the same traffic, as Kayenta's NetflixACAJudge scores it, plus what Kayenta misses.

Per metric group (`latency`, `error_rate`, `prediction`, `cohort_prediction`) each
comparison is labelled `pass`, `high`, `low` or `nodata`:

- latency: Kayenta's Mann-Whitney test, `high` when the Hodges-Lehmann interval's lower end
  exceeds `tolerance`·|shift| and the shift exceeds the allowed increase of the baseline's
  median; and the quantile ratios at p50, p95 and p99, each `high` when its interval's lower
  end exceeds the allowed increase. A quantile below LoadGen's minimum n has no data. With a
  `latency_slack_ms`, a latency is `high` only when its increase also exceeds the slack in
  milliseconds: +200% of 0.7 ms is no regression for a service whose SLO is 50 ms.
- error_rate: `high` when the lower end of the difference's interval exceeds the allowed
  (absolute) increase; Fisher's exact p-value is reported, so three errors in 150 requests
  against none in 3,000 are not read as noise.
- prediction: the shift of the predictions' distribution in baseline standard deviations,
  `high` when its interval's lower end exceeds the allowed shift (0.1, Evidently's threshold
  for a normalised Wasserstein distance); per cohort for `cohort_prediction`, which names
  the cohort.

Score: the groups weigh equally, each by the share of its comparisons with data that pass;
a critical metric that fails scores 0. `pass` at `pass_score`, `fail` under `marginal_score`,
and `nodata` when half the comparisons or more have none (Kayenta's rules).
No outliers are removed: a tail regression is exactly the slow few percent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.comparisons import Comparison, distribution_shift, location_shift, quantile_shift, rate_increase
from harness.analysis.judge_settings import JudgeSettings
from harness.analysis.stats import min_samples_for_percentile

NS_PER_MS = 1e6
MIN_RANK_SAMPLES = 20  # below ~20 requests per window teams skip canary checks; so do we
MIN_DISTRIBUTION_SAMPLES = 50
@dataclass(frozen=True)
class VersionSample:
    """One version's requests in one judged window."""

    version: str
    latency_ms: np.ndarray  # successes only
    failures: int
    requests: int
    predictions: np.ndarray  # of successes with a prediction
    cohorts: np.ndarray  # aligned with predictions (None where unlabelled)


@dataclass(frozen=True)
class MetricResult:
    name: str
    group: str
    label: str  # pass | high | low | nodata
    critical: bool
    effect: float = math.nan
    ci: tuple[float, float] = (math.nan, math.nan)
    p_value: float = math.nan
    unit: str = ""
    method: str = ""
    baseline: float = math.nan
    candidate: float = math.nan
    n_baseline: int = 0
    n_candidate: int = 0
    needed: int = 0  # more candidate requests before this comparison has data
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ci": list(self.ci)}


@dataclass(frozen=True)
class Judgement:
    score: float  # NaN with no data
    outcome: str  # pass | marginal | fail | nodata
    metrics: list[MetricResult]
    baseline_requests: int
    candidate_requests: int

    @property
    def needed(self) -> int:
        return max((m.needed for m in self.metrics if m.label == "nodata"), default=0)

    def failing(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.label in ("high", "low")]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "outcome": self.outcome, "needed": self.needed,
                "baseline_requests": self.baseline_requests, "candidate_requests": self.candidate_requests,
                "metrics": [m.to_dict() for m in self.metrics]}


def quantile_metric(q: float) -> str:
    """The name of the comparison of the q-quantile of latency: `latency_p99`."""
    return f"latency_p{q * 100:g}"


def metric_names(settings: JudgeSettings) -> list[str]:
    """The comparisons `judge` makes of the groups with a fixed set of them (cohorts are known
    only from the data): what a gate can name before it has judged."""
    fixed = {"latency": ["latency", *map(quantile_metric, settings.quantiles)], "error_rate": ["error_rate"],
             "prediction": ["prediction"]}
    return [name for group in settings.metrics for name in fixed.get(group, [group])]


def version_sample(records: pd.DataFrame, version: str) -> VersionSample:
    """A version's requests from a frame of records (already cut to the judged window)."""
    mine = records[records["model_version"] == version]
    ok = mine[mine["error_kind"].isna()]
    latency = (ok["done_ns"].to_numpy() - ok["intended_ns"].to_numpy()) / NS_PER_MS
    predictions = ok["prediction"].to_numpy(dtype=float)
    has = np.isfinite(predictions)
    return VersionSample(version, latency, len(mine) - len(ok), len(mine), predictions[has],
                         ok["cohort"].to_numpy(dtype=object)[has])


def judge(baseline: VersionSample, candidate: VersionSample, settings: JudgeSettings) -> Judgement:
    rng = np.random.default_rng(settings.seed)
    results = [result for group in settings.metrics for result in JUDGES[group](baseline, candidate, settings, rng)]
    score, outcome = score_of(results, settings)
    return Judgement(score, outcome, results, baseline.requests, candidate.requests)


def score_of(results: list[MetricResult], settings: JudgeSettings) -> tuple[float, str]:
    groups: dict[str, list[MetricResult]] = {}
    for result in results:
        groups.setdefault(result.group, []).append(result)
    with_data = {g: [r for r in rs if r.label != "nodata"] for g, rs in groups.items()}
    scored = [sum(r.label == "pass" for r in rs) / len(rs) for rs in with_data.values() if rs]
    missing = sum(r.label == "nodata" for r in results)
    if not scored or 2 * missing >= len(results):
        return math.nan, "nodata"
    if any(r.critical and r.label in ("high", "low") for r in results):
        return 0.0, "fail"
    score = 100.0 * sum(scored) / len(scored)
    if score >= settings.pass_score:
        return score, "pass"
    return score, "marginal" if score >= settings.marginal_score else "fail"


def _latency(baseline: VersionSample, candidate: VersionSample, settings: JudgeSettings,
             rng: np.random.Generator) -> list[MetricResult]:
    base, cand = baseline.latency_ms, candidate.latency_ms
    allowed = settings.allowed("latency")
    results = []
    shortfall = MIN_RANK_SAMPLES - min(base.size, cand.size)
    if shortfall > 0:
        results.append(_nodata("latency", "latency", settings, base.size, cand.size, shortfall))
    else:
        shift = location_shift(base, cand, settings.confidence, rng)
        results.append(_labelled("latency", "latency", shift, settings, base.size, cand.size,
                                 high=shift.lo > settings.tolerance * abs(shift.effect)
                                 and shift.effect > allowed * shift.baseline and shift.lo > settings.latency_slack_ms,
                                 low=False))
    for q in settings.quantiles:
        name = quantile_metric(q)
        needed = min_samples_for_percentile(q, settings.confidence)
        if min(base.size, cand.size) < needed:
            results.append(_nodata(name, "latency", settings, base.size, cand.size, needed - min(base.size, cand.size)))
            continue
        ratio = quantile_shift(base, cand, q, settings.confidence, rng)
        slower = ratio.lo > allowed and ratio.lo * ratio.baseline > settings.latency_slack_ms
        results.append(_labelled(name, "latency", ratio, settings, base.size, cand.size, high=slower, low=False))
    return results


def _error_rate(baseline: VersionSample, candidate: VersionSample, settings: JudgeSettings,
                rng: np.random.Generator) -> list[MetricResult]:
    if min(baseline.requests, candidate.requests) == 0:
        return [_nodata("error_rate", "error_rate", settings, baseline.requests, candidate.requests, 1)]
    rates = rate_increase(baseline.failures, baseline.requests, candidate.failures, candidate.requests,
                          settings.confidence)
    return [_labelled("error_rate", "error_rate", rates, settings, baseline.requests, candidate.requests,
                      high=rates.lo > settings.allowed("error_rate"), low=False)]


def _prediction(baseline: VersionSample, candidate: VersionSample, settings: JudgeSettings,
                rng: np.random.Generator) -> list[MetricResult]:
    return [_distribution("prediction", "prediction", baseline.predictions, candidate.predictions, settings, rng)]


def _cohort_prediction(baseline: VersionSample, candidate: VersionSample, settings: JudgeSettings,
                       rng: np.random.Generator) -> list[MetricResult]:
    cohorts = sorted({c for c in candidate.cohorts if c is not None} | {c for c in baseline.cohorts if c is not None})
    if not cohorts:
        return [_nodata("cohort_prediction", "cohort_prediction", settings, 0, 0, MIN_DISTRIBUTION_SAMPLES,
                        "no request carried a cohort: name one with canary.cohort")]
    return [_distribution(f"prediction[{cohort}]", "cohort_prediction", baseline.predictions[baseline.cohorts == cohort],
                          candidate.predictions[candidate.cohorts == cohort], settings, rng)
            for cohort in cohorts]


def _distribution(name: str, group: str, base: np.ndarray, cand: np.ndarray, settings: JudgeSettings,
                  rng: np.random.Generator) -> MetricResult:
    shortfall = MIN_DISTRIBUTION_SAMPLES - min(base.size, cand.size)
    if shortfall > 0:
        return _nodata(name, group, settings, base.size, cand.size, max(shortfall, 0))
    shift = distribution_shift(base, cand, rng)
    return _labelled(name, group, shift, settings, base.size, cand.size, high=shift.lo > settings.allowed(group),
                     low=False)


def _labelled(name: str, group: str, comparison: Comparison, settings: JudgeSettings, n_base: int, n_cand: int,
              *, high: bool, low: bool) -> MetricResult:
    return MetricResult(name, group, "high" if high else "low" if low else "pass", _critical(name, group, settings),
                        float(comparison.effect), (float(comparison.lo), float(comparison.hi)),
                        float(comparison.p_value), comparison.unit, comparison.method, float(comparison.baseline),
                        float(comparison.candidate), n_base, n_cand)


def _nodata(name: str, group: str, settings: JudgeSettings, n_base: int, n_cand: int, needed: int,
            detail: str = "") -> MetricResult:
    return MetricResult(name, group, "nodata", _critical(name, group, settings), n_baseline=n_base,
                        n_candidate=n_cand, needed=max(needed, 0),
                        detail=detail or f"needs {max(needed, 0)} more requests of the version with fewer")


def _critical(name: str, group: str, settings: JudgeSettings) -> bool:
    return name in settings.critical or group in settings.critical


GroupJudge = Callable[[VersionSample, VersionSample, JudgeSettings, np.random.Generator], list[MetricResult]]
JUDGES: dict[str, GroupJudge] = {"latency": _latency, "error_rate": _error_rate, "prediction": _prediction,
                                 "cohort_prediction": _cohort_prediction}
