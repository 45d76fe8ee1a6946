"""Correctness against labels: the AUC and its interval on scores of known separation, and
the drop a drifted state shows against the undrifted requests of its version."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from harness.analysis.analyze_run import analyze
from harness.analysis.correctness import auc_and_se, correctness_of
from harness.analysis.spec import AnalysisSpec
from harness.analysis.synthetic import synthetic_records


def binormal(n: int, positives: float, separation: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = (rng.random(n) < positives).astype(float)
    return rng.normal(separation * labels, 1.0), labels


@settings(max_examples=50, deadline=None)
@given(separation=st.floats(0.0, 3.0), seed=st.integers(0, 2**32 - 1))
def test_the_auc_recovers_the_binormal_truth(separation, seed):
    scores, labels = binormal(20_000, 0.3, separation, np.random.default_rng(seed))
    auc, se = auc_and_se(scores, labels)
    assert auc == pytest.approx(stats.norm.cdf(separation / math.sqrt(2)), abs=4 * se + 1e-3)


def test_the_auc_interval_covers_the_truth_at_its_level():
    """Hanley-McNeil at a fraud-like 3% positive rate: 95% intervals cover about 95% of the time."""
    rng = np.random.default_rng(7)
    truth = stats.norm.cdf(1.0 / math.sqrt(2))
    covered = 0
    for _ in range(400):
        scores, labels = binormal(2000, 0.03, 1.0, rng)
        lo, hi = correctness_of("1", "undrifted", scores, labels, 0.95).auc_ci
        covered += lo <= truth <= hi
    print(f"\nHanley-McNeil 95% AUC intervals covering the truth: {covered / 400:.1%} of 400")
    assert 0.91 <= covered / 400 <= 0.99


def test_one_class_only_has_no_auc():
    assert math.isnan(auc_and_se(np.array([0.1, 0.9]), np.array([1.0, 1.0]))[0])


def test_a_drifted_state_that_scrambles_the_scores_shows_a_drop():
    frame = synthetic_records(6000, rate=100, seed=3)
    rng = np.random.default_rng(5)
    labels = (rng.random(len(frame)) < 0.1).astype(float)
    drifted = frame["intended_ns"].to_numpy() >= 30e9
    informative = 1 / (1 + np.exp(-(rng.normal(0, 1, len(frame)) + 2.5 * labels - 2)))
    frame["label"] = labels
    frame["prediction"] = np.where(drifted, rng.random(len(frame)), informative)
    frame.loc[drifted, "drift_tag"] = "fields-swapped"
    result = analyze(frame, None, AnalysisSpec(slos=["auc_drop > 0.2", "auc > 0.9", "accuracy >= 50%"]))
    section = result.summary["correctness"]
    (drop,) = section["drops"]
    assert drop["drift"] == "fields-swapped" and drop["auc_drop"] == pytest.approx(0.96 - 0.5, abs=0.05)
    assert [s["verdict"] for s in result.summary["slos"]] == ["pass", "fail", "pass"]


def test_runs_without_labels_have_no_correctness_section():
    assert "correctness" not in analyze(synthetic_records(500), None, AnalysisSpec()).summary
