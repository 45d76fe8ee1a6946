"""Intervals that hold when samples are not independent.

Runs of an M/G/1 queue whose server now and then pauses (harness/analysis/synthetic.py):
each pause slows every request queued behind it, so consecutive latencies are strongly
dependent. The verdicts' bounds must still cover the process's true quantiles at their
nominal rate, where bounds that assume independence fall short. Both are printed.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.dependence import INDEPENDENT, assess
from harness.analysis.estimators import quantile_estimates, share_beyond
from harness.analysis.samples import Sample
from harness.analysis.stats import bounds_level
from harness.analysis.synthetic import stalled_queue_latencies

RUNS = 1000
N = 10_000
CONFIDENCE = 0.95  # each one-sided bound
QUANTILES = np.array([0.5, 0.9, 0.99])
PAUSES = {"stall_probability": 0.02, "stall_ms": 20.0}  # a 20 ms pause every 50 requests or so


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    """The process's quantiles, from one run 400 times longer than a test run."""
    return np.quantile(stalled_queue_latencies(4_000_000, np.random.default_rng(0), **PAUSES), QUANTILES)


@pytest.fixture(scope="module")
def bounds(truth) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each run's one-sided bounds: as the verdicts compute them, and assuming independence;
    and ("share") the bounds on the share of values under each true quantile, by which a
    percentile SLO of dependent samples is judged."""
    rng = np.random.default_rng(1)
    found = {"dependence-aware": ([], []), "independent": ([], []), "share": ([], [])}
    for _ in range(RUNS):
        sample = Sample.of(stalled_queue_latencies(N, rng, **PAUSES), CONFIDENCE)
        naive = Sample(sample.ordered, sample.in_time, sample.units, INDEPENDENT)
        for name, judged in (("dependence-aware", sample), ("independent", naive)):
            _, lo, hi, _ = quantile_estimates(judged, QUANTILES, bounds_level(CONFIDENCE))
            found[name][0].append(lo)
            found[name][1].append(hi)
        shares = [share_beyond(sample, sample.in_time < at, bounds_level(CONFIDENCE)) for at in truth]
        found["share"][0].append([share.lo for share in shares])
        found["share"][1].append([share.hi for share in shares])
    return {name: (np.array(lo), np.array(hi)) for name, (lo, hi) in found.items()}


def coverage(bounds: tuple[np.ndarray, np.ndarray], truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = bounds
    return (np.nan_to_num(lo, nan=-np.inf) <= truth).mean(axis=0), (np.nan_to_num(hi, nan=np.inf) >= truth).mean(axis=0)


def test_bounds_cover_the_true_quantiles_of_a_stalled_queue(truth, bounds, capsys) -> None:
    table = {name: coverage(found, truth) for name, found in bounds.items() if name != "share"}
    with capsys.disabled():
        print(f"\ncoverage of nominal {CONFIDENCE:.0%} one-sided bounds over {RUNS} runs of {N} (stalled M/G/1):")
        for name, (lower, upper) in table.items():
            cells = "  ".join(f"p{q * 100:g}: lower {lo:.1%} upper {hi:.1%}" for q, lo, hi in zip(QUANTILES, lower, upper, strict=True))
            print(f"  {name:17} {cells}")
    lower, upper = table["dependence-aware"]
    # a missing bound (too little evidence: the verdict is inconclusive) is no bound at all
    assert (lower >= 0.93).all() and (upper >= 0.93).all(), table
    naive_lower, naive_upper = table["independent"]
    assert naive_upper.min() < 0.93  # independence under-covers: the reason for the method


def test_judging_at_the_threshold_keeps_its_error_rates(bounds, capsys) -> None:
    """With the threshold at the true quantile the SLO sits on its edge: a verdict that passes
    (the share's lower bound above q) or fails (its upper bound below q) is then wrong, and
    each must happen in at most about 5% of runs."""
    lo, hi = bounds["share"]
    wrong_pass, wrong_fail = (lo > QUANTILES).mean(axis=0), (hi < QUANTILES).mean(axis=0)
    with capsys.disabled():
        cells = "  ".join(f"p{q * 100:g}: pass {p:.1%} fail {f:.1%}" for q, p, f in zip(QUANTILES, wrong_pass, wrong_fail, strict=True))
        print(f"\nwrong verdicts judged at the threshold (= the true quantile) over {RUNS} runs: {cells}")
    assert (wrong_pass <= 0.07).all() and (wrong_fail <= 0.07).all(), (wrong_pass, wrong_fail)


def test_the_threshold_verdict_passes_a_clear_margin() -> None:
    """What the threshold verdict is for: a stalled run whose p90 is far under its objective
    passes, where the p90's own upper bound (re-read at the bound) may not exist."""
    values = stalled_queue_latencies(N, np.random.default_rng(4), **PAUSES)
    sample = Sample.of(values, CONFIDENCE)
    share = share_beyond(sample, sample.in_time < 2.0 * np.quantile(values, 0.9), bounds_level(CONFIDENCE))
    assert share.lo > 0.9 and share.n_effective < N


def test_independent_samples_keep_the_exact_bounds() -> None:
    """Without significant autocorrelation nothing changes: the exact order statistics stand."""
    values = np.random.default_rng(2).exponential(10.0, 5000)
    assert not assess(values, CONFIDENCE).significant
    sample = Sample.of(values, CONFIDENCE)
    *_, effective = quantile_estimates(sample, QUANTILES, bounds_level(CONFIDENCE))
    assert effective is None


def test_dependence_shrinks_the_effective_sample() -> None:
    values = stalled_queue_latencies(N, np.random.default_rng(3), **PAUSES)
    sample = Sample.of(values, CONFIDENCE)
    assert sample.dependence.significant and sample.dependence.batches == 8
    *_, effective = quantile_estimates(sample, QUANTILES, bounds_level(CONFIDENCE))
    assert (effective < N).all() and (effective > 0).all()
