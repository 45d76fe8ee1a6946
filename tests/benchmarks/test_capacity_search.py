"""B3's capacity search and B2's schedule truth: the suite's own arithmetic, against known answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.b2_coordinated_omission import SERVICE_S, Stall, true_latencies
from benchmarks.b3_server_throughput import Step, search


def server_with_capacity(capacity: float, generator_limit: float = float("inf")):
    def measure(rate: float) -> Step:
        if rate > generator_limit:
            outcome = "generator-bound"
        else:
            outcome = "pass" if rate <= capacity else "fail"
        return Step(rate, rate, 1.0, 1.0, 0.0, 0.1, outcome, "")

    return measure


@settings(max_examples=200, deadline=None)
@given(capacity=st.floats(100, 200_000), bisections=st.integers(0, 4))
def test_search_brackets_the_capacity_within_its_resolution(capacity: float, bisections: int) -> None:
    steps = search(server_with_capacity(capacity), 1000.0, bisections)
    best = max(s.rate for s in steps if s.outcome == "pass")
    assert best <= capacity
    # each bisection halves the log-width of a factor-2 bracket (rates are rounded to whole req/s)
    assert best >= capacity / 2 ** (1 / 2**bisections) - 1


def test_search_stops_at_the_generators_limit() -> None:
    steps = search(server_with_capacity(50_000, generator_limit=9_000), 1000.0, 3)
    assert steps[-1].outcome == "generator-bound" and steps[-1].rate == 16_000
    assert max(s.rate for s in steps if s.outcome == "pass") == 8_000


def test_search_gives_up_below_the_floor() -> None:
    steps = search(server_with_capacity(10.0), 1000.0, 3)
    assert not [s for s in steps if s.outcome == "pass"] and min(s.rate for s in steps) >= 50


def test_truth_without_a_stall_is_the_service_time() -> None:
    latencies = true_latencies(100.0, 5.0, Stall(100.0, 101.0))
    assert latencies.size == 500 and np.allclose(latencies, SERVICE_S)


@settings(max_examples=50, deadline=None)
@given(start=st.floats(1.0, 8.0), length=st.floats(0.2, 3.0), rate=st.sampled_from([50.0, 100.0, 200.0]))
def test_truth_through_a_stall(start: float, length: float, rate: float) -> None:
    stall = Stall(start, start + length)
    latencies = true_latencies(rate, 12.0, stall)
    intended = np.arange(latencies.size) / rate
    during = (intended >= stall.start_s) & (intended < stall.end_s)
    # every request scheduled inside the stall waits for its end, then its service (and the backlog)
    assert np.all(latencies[during] >= stall.end_s - intended[during] + SERVICE_S - 1e-9)
    # 64 slots clear the backlog in ceil(backlog / 64) service times
    backlog = during.sum() + 1
    assert latencies.max() <= length + SERVICE_S * (np.ceil(backlog / 64) + 1) + 1e-9
    assert np.allclose(latencies[intended >= stall.end_s + 1.0], SERVICE_S)
