"""The statistics every verdict reads: percentile bounds, Clopper-Pearson, the verdicts of
20 SLOs over a million records, and the dependence-robust intervals."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis.estimators import quantile_estimates, share_beyond
from harness.analysis.samples import RunSamples, Sample
from harness.analysis.slo import parse_slo
from harness.analysis.stats import bounds_level, proportion_ci, quantile_cis
from harness.analysis.synthetic import stalled_queue_latencies
from harness.analysis.verdicts import evaluate_slo

from .conftest import MILLION

QUANTILES = np.array([0.5, 0.9, 0.95, 0.99, 0.999])
LEVEL = bounds_level(0.95)
TWENTY_SLOS = [f"p{q}({metric}) < {limit}ms" for metric in ("latency", "service_time", "time_to_first_byte")
               for q, limit in ((50, 40), (90, 60), (99, 200), (99.9, 900))] + [
    "mean(latency) < 30ms", "mean(service_time) < 30ms", "max(latency) < 5000ms", "max(service_time) < 5000ms",
    "rate(latency) > 900/s", "count(latency) > 900000", "p75(latency) < 35ms", "p25(latency) < 20ms"]


@pytest.fixture(scope="module")
def ordered() -> np.ndarray:
    return np.sort(np.random.default_rng(0).lognormal(np.log(20.0), 0.5, MILLION))


@pytest.fixture(scope="module")
def stalled() -> Sample:
    return Sample.of(stalled_queue_latencies(MILLION, np.random.default_rng(1), stall_probability=0.02, stall_ms=20.0))


def test_percentile_bounds_of_a_million_values(benchmark, ordered) -> None:
    _, lo, hi = benchmark(quantile_cis, ordered, QUANTILES, LEVEL)
    assert (lo < hi).all()


def test_clopper_pearson(benchmark) -> None:
    lo, hi = benchmark(proportion_ci, 37, 100_000, LEVEL, "clopper-pearson")
    assert 0 < lo < 37 / 100_000 < hi


def test_verdicts_of_twenty_slos_over_a_million_records(benchmark, million) -> None:
    slos = [parse_slo(expr) for expr in TWENTY_SLOS]
    assert len(slos) == 20

    def judge() -> list[dict]:
        samples = RunSamples(million.records, million.duration_s)  # fresh: each metric's sample is built once per run
        return [evaluate_slo(slo, samples, {}, 0.95) for slo in slos]

    verdicts = benchmark.pedantic(judge, rounds=5)
    assert {v["verdict"] for v in verdicts} <= {"pass", "fail", "inconclusive"}


def test_dependence_robust_percentile_bounds(benchmark, stalled) -> None:
    assert stalled.dependence.batches
    *_, effective = benchmark(quantile_estimates, stalled, QUANTILES, LEVEL)
    assert (effective < MILLION).all()


def test_share_under_a_threshold_of_dependent_values(benchmark, stalled) -> None:
    share = benchmark(lambda: share_beyond(stalled, stalled.in_time < 50.0, LEVEL))
    assert share.n_effective < MILLION
