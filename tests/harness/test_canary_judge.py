"""The canary judge against known truths: samples drawn from stated distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.canary import next_action
from harness.analysis.canary_judge import VersionSample, judge
from harness.analysis.judge_settings import JudgeSettings
from harness.analysis.comparisons import (
    _bootstrap_quantile,
    distribution_shift,
    location_shift,
    quantile_shift,
    rate_increase,
)

LATENCY = JudgeSettings(metrics=("latency", "error_rate"))


def sample(version: str, latency_ms: np.ndarray, failures: int = 0, predictions: np.ndarray | None = None,
           cohorts: np.ndarray | None = None) -> VersionSample:
    predictions = np.empty(0) if predictions is None else predictions
    cohorts = np.full(predictions.size, None, dtype=object) if cohorts is None else cohorts
    return VersionSample(version, latency_ms, failures, latency_ms.size + failures, predictions, cohorts)


def lognormal(rng: np.random.Generator, n: int, median_ms: float = 10.0, sigma: float = 0.3) -> np.ndarray:
    return rng.lognormal(math.log(median_ms), sigma, n)


def decision(baseline: VersionSample, candidate: VersionSample, judge_settings: JudgeSettings = LATENCY) -> str:
    return next_action(judge(baseline, candidate, judge_settings).outcome, last=True)


def test_an_identical_candidate_is_promoted_in_at_least_95_of_100_judgements(capsys):
    rng = np.random.default_rng(11)
    promoted = sum(decision(sample("1", lognormal(rng, 1500)), sample("2", lognormal(rng, 1500)),
                            JudgeSettings(metrics=("latency", "error_rate"), seed=i)) == "promote"
                   for i in range(100))
    with capsys.disabled():
        print(f"\ncanary false-positive rate, identical versions: {100 - promoted}/100 judgements not promoted")
    assert promoted >= 95


@pytest.mark.parametrize("seed", range(5))
def test_15ms_more_on_5_percent_of_requests_is_rolled_back(seed):
    """The rank test barely moves (the median is untouched); the p95 and p99 do."""
    rng = np.random.default_rng(seed)
    candidate = lognormal(rng, 1500)
    candidate[rng.random(candidate.size) < 0.05] += 15.0
    judgement = judge(sample("1", lognormal(rng, 1500)), sample("2", candidate), LATENCY)
    labels = {m.name: m.label for m in judgement.metrics}
    assert next_action(judgement.outcome, last=True) == "rollback"
    assert labels["latency_p99"] == "high"
    assert labels["latency_p50"] == "pass"


def test_a_uniformly_slower_candidate_fails_the_rank_test_too():
    rng = np.random.default_rng(3)
    judgement = judge(sample("1", lognormal(rng, 1000)), sample("2", lognormal(rng, 1000, median_ms=13.0)), LATENCY)
    labels = {m.name: m.label for m in judgement.metrics}
    assert labels["latency"] == "high" and labels["latency_p50"] == "high"


def test_sparse_errors_are_not_read_as_noise():
    rng = np.random.default_rng(4)
    judgement = judge(sample("1", lognormal(rng, 3000)), sample("2", lognormal(rng, 147), failures=3), LATENCY)
    error = next(m for m in judgement.metrics if m.name == "error_rate")
    assert error.label == "high" and error.p_value < 0.001


def test_a_critical_metric_fails_the_canary_alone():
    rng = np.random.default_rng(5)
    critical = JudgeSettings(metrics=("latency", "error_rate"), critical=("error_rate",))
    judgement = judge(sample("1", lognormal(rng, 3000)), sample("2", lognormal(rng, 600), failures=6), critical)
    assert judgement.score == 0.0 and judgement.outcome == "fail"


def test_too_few_requests_is_inconclusive_and_says_how_many_more():
    rng = np.random.default_rng(6)
    judgement = judge(sample("1", lognormal(rng, 12)), sample("2", lognormal(rng, 9)),
                      JudgeSettings(metrics=("latency", "prediction")))
    assert judgement.outcome == "nodata" and math.isnan(judgement.score)
    assert next_action(judgement.outcome, last=True) == "inconclusive"
    assert judgement.needed >= 11


def test_a_cohort_biased_candidate_names_its_cohort():
    rng = np.random.default_rng(7)
    cohorts = rng.choice(np.array(["web", "mobile", "pos"], dtype=object), 3000, p=[0.2, 0.5, 0.3])
    base, cand = rng.beta(2, 8, 3000), rng.beta(2, 8, 3000)
    cand[cohorts == "web"] = np.clip(cand[cohorts == "web"] + 0.15, 0, 1)
    settings_ = JudgeSettings(metrics=("cohort_prediction",))
    judgement = judge(sample("1", lognormal(rng, 3000), predictions=base, cohorts=cohorts),
                      sample("2", lognormal(rng, 3000), predictions=cand, cohorts=cohorts), settings_)
    labels = {m.name: m.label for m in judgement.metrics}
    assert labels == {"prediction[mobile]": "pass", "prediction[pos]": "pass", "prediction[web]": "high"}


def test_marginal_scores_continue_until_the_last_step():
    assert next_action("marginal", last=False) == "continue"
    assert next_action("marginal", last=True) == "rollback"
    assert next_action("fail", last=False) == "rollback"
    assert next_action("nodata", last=False) == "continue"


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-5.0, 5.0), seed=st.integers(0, 2**16))
def test_hodges_lehmann_finds_a_known_shift(shift, seed):
    rng = np.random.default_rng(seed)
    base = rng.normal(20.0, 2.0, 400)
    found = location_shift(base, rng.normal(20.0 + shift, 2.0, 400), 0.98, rng)
    standard_error = 2.0 * math.sqrt(2 / 400)
    assert abs(found.effect - shift) < 5 * standard_error
    assert found.lo <= found.effect <= found.hi


@settings(max_examples=25, deadline=None)
@given(k1=st.integers(0, 50), n1=st.integers(50, 2000), k2=st.integers(0, 50), n2=st.integers(50, 2000))
def test_the_rate_difference_interval_holds_the_observed_difference(k1, n1, k2, n2):
    found = rate_increase(k2, n2, k1, n1, 0.98)
    assert found.lo <= k1 / n1 - k2 / n2 <= found.hi
    assert -1.0 <= found.lo and found.hi <= 1.0


@settings(max_examples=20, deadline=None)
@given(q=st.sampled_from([0.5, 0.9, 0.99]), seed=st.integers(0, 2**16))
def test_the_order_statistic_bootstrap_matches_a_resampling_bootstrap(q, seed):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(2.0, 0.5, 800)
    fast = _bootstrap_quantile(values, q, rng)
    slow = np.quantile(rng.choice(values, (1000, values.size)), q, axis=1, method="inverted_cdf")
    spread = np.std(slow)
    assert abs(np.mean(fast) - np.mean(slow)) < 0.25 * spread + 1e-9
    assert 0.7 < np.std(fast) / spread < 1.4


def test_the_quantile_ratio_is_a_relative_change():
    rng = np.random.default_rng(8)
    base = lognormal(rng, 2000)
    found = quantile_shift(base, base * 1.2, 0.95, 0.98, rng)
    assert found.effect == pytest.approx(0.2, abs=1e-9)
    assert found.lo > 0.1


def test_the_distribution_shift_is_in_baseline_standard_deviations():
    rng = np.random.default_rng(9)
    base = rng.normal(0.0, 1.0, 2000)
    assert distribution_shift(base, rng.normal(0.5, 1.0, 2000), rng).effect == pytest.approx(0.5, abs=0.08)
    assert abs(distribution_shift(base, rng.normal(0.0, 1.0, 2000), rng).effect) < 0.05
