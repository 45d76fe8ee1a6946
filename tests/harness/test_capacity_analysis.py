"""Capacity figures against known truths: queues past and under saturation, curves with a
known knee, fleets sized for a peak, and prices per request and per token."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.capacity import knee, replicas_for_peak, saturation, stability, step_figures
from harness.analysis.cost import cost_per_1k, cost_per_million, inverted
from harness.analysis.samples import RunSamples
from harness.analysis.synthetic import synthetic_records
from harness.clock import NS_PER_MS

RATE = 200.0
SECONDS = 10.0


def queue_records(utilisation: float, seed: int) -> pd.DataFrame:
    """An M/M/1 queue at `utilisation`, its latencies written into a run's records (Lindley's recursion)."""
    rng = np.random.default_rng(seed)
    n = int(RATE * SECONDS)
    service = rng.exponential(utilisation * 1e3 / RATE, n)
    gaps = np.full(n, 1e3 / RATE)
    walk = np.concatenate(([0.0], np.cumsum(service[:-1] - gaps[1:])))
    latency = walk - np.minimum(0.0, np.minimum.accumulate(walk)) + service
    records = synthetic_records(n, rate=RATE, seed=seed)
    records["sent_ns"] = records["intended_ns"]
    records["done_ns"] = records["intended_ns"] + (latency * NS_PER_MS).astype(np.int64)
    return records


def samples_of(records: pd.DataFrame) -> RunSamples:
    return RunSamples(records, SECONDS, 0.95, (0.0, SECONDS))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), utilisation=st.floats(1.15, 2.0))
def test_a_queue_past_saturation_is_flagged(seed: int, utilisation: float) -> None:
    records = queue_records(utilisation, seed)
    found = saturation(records, samples_of(records), 0.95)
    assert found["saturated"], found["reason"]
    assert found["ci"][0] > 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), utilisation=st.floats(0.1, 0.6))
def test_a_stable_queue_is_not_flagged(seed: int, utilisation: float) -> None:
    records = queue_records(utilisation, seed)
    assert not saturation(records, samples_of(records), 0.95)["saturated"]


def test_stability_compares_the_thirds_of_a_step() -> None:
    steady = synthetic_records(3000, rate=300.0, sigma=0.1, seed=1)
    samples = RunSamples(steady, 10.0, 0.95, (0.0, 10.0))
    assert stability(steady, samples)["stable"]
    slowing = steady.copy()
    late = slowing["intended_ns"] > 6.7e9
    slowing.loc[late, "done_ns"] = slowing.loc[late, "done_ns"] + 40 * NS_PER_MS
    assert not stability(slowing, RunSamples(slowing, 10.0, 0.95, (0.0, 10.0)))["stable"]


def test_step_figures_carry_each_judged_metric_with_bounds() -> None:
    records = queue_records(0.5, 3)
    figures = step_figures(records, (0.0, SECONDS), 0.95, ("latency", "service_time"))
    table = figures["metrics"]["latency"]
    assert table["ci"]["p99"][0] <= table["p99"] <= table["ci"]["p99"][1]
    assert set(figures) == {"completed_rps", "metrics", "saturation", "stability"}


def test_an_overloaded_step_completes_only_what_its_server_can() -> None:
    """An M/M/1 queue offered 1.5x its capacity: every request is eventually answered, so
    throughput by intended time is the offered rate, but answers inside the step come at
    the service rate."""
    records = queue_records(1.5, 7)
    samples = samples_of(records)
    served = step_figures(records, (0.0, SECONDS), 0.95, ("latency",))["completed_rps"]
    assert served == pytest.approx(RATE / 1.5, rel=0.1)
    assert samples.judged_rows.sum() / SECONDS == pytest.approx(RATE)


@settings(max_examples=100, deadline=None)
@given(at=st.floats(0.3, 0.8), steep=st.floats(20, 200), points=st.integers(8, 20))
def test_the_knee_of_a_hockey_stick_is_where_it_bends(at: float, steep: float, points: int) -> None:
    x = np.linspace(0.05, 1.0, points) * 1000
    y = 5.0 + steep * np.maximum(0.0, x / 1000 - at) ** 2 * 10
    found = knee(x, y)
    assert found is not None
    assert abs(found["throughput"] / 1000 - at) < 0.2, (found, at)


def test_the_knee_of_an_mm1_curve_sits_before_saturation() -> None:
    capacity = 1000.0
    x = np.array([100, 200, 400, 600, 800, 900, 950, 980], dtype=float)
    y = 1e3 / (capacity - x)  # mean M/M/1 latency in ms
    found = knee(x, y)
    assert 800 <= found["throughput"] < capacity


def test_no_knee_from_too_few_points_or_a_flat_curve() -> None:
    assert knee(np.array([1.0, 2.0]), np.array([1.0, 5.0])) is None
    assert knee(np.array([1.0, 2.0, 3.0]), np.array([4.0, 4.0, 4.0])) is None
    assert knee(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, math.inf, 2.0, 9.0])) is not None


@settings(max_examples=300, deadline=None)
@given(peak=st.floats(1, 1e6), headroom=st.floats(0, 1), per_replica=st.floats(1, 1e5))
def test_replicas_for_a_peak_are_the_fewest_with_the_headroom(peak, headroom, per_replica) -> None:
    plan = replicas_for_peak(peak, headroom, per_replica)
    needed = peak * (1 + headroom)
    assert plan["replicas"] * per_replica >= needed * (1 - 1e-12)
    assert plan["replicas"] == 1 or (plan["replicas"] - 1) * per_replica < needed
    assert plan["utilisation_at_peak"] <= 1.0 / (1 + headroom) * (1 + 1e-12)


def test_costs_per_request_and_per_token() -> None:
    assert cost_per_1k(3.6, 1.0) == pytest.approx(1.0)  # $3.60/h at 1 req/s: $0.001 a request
    assert cost_per_1k(0.08925, 2000.0) == pytest.approx(0.08925 / 3600 / 2000 * 1000)
    assert cost_per_million(3.6, 1000.0) == pytest.approx(1.0)
    assert cost_per_1k(1.0, 0.0) == math.inf
    priced = inverted(cost_per_1k, 3.6, {"estimate": 2.0, "ci": [1.0, 4.0]})
    assert priced["estimate"] == pytest.approx(0.5) and priced["ci"] == pytest.approx([0.25, 1.0])
