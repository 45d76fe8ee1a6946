"""The outer-loop rate search and its reading of a run's summary, against known answers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.experiments.capacity.search import RateSearch, best, bracket, classify, confirming, search


@dataclass
class Step:
    rate: float
    outcome: str


def server_with_capacity(capacity: float, generator_limit: float = float("inf")):
    def measure(rate: float) -> Step:
        if rate > generator_limit:
            outcome = "generator-bound"
        else:
            outcome = "pass" if rate <= capacity else "fail"
        return Step(rate, outcome)

    return measure


@settings(max_examples=200, deadline=None)
@given(capacity=st.floats(100, 200_000), bisections=st.integers(0, 4))
def test_search_brackets_the_capacity_within_its_resolution(capacity: float, bisections: int) -> None:
    steps = search(server_with_capacity(capacity), 1000.0, bisections)
    found = best(steps).rate
    assert found <= capacity
    # each bisection halves the log-width of a factor-2 bracket (rates are rounded to whole req/s)
    assert found >= capacity / 2 ** (1 / 2**bisections) - 1


def test_search_stops_at_the_generators_limit() -> None:
    steps = search(server_with_capacity(50_000, generator_limit=9_000), 1000.0, 3)
    assert steps[-1].outcome == "generator-bound" and steps[-1].rate == 16_000
    assert max(s.rate for s in steps if s.outcome == "pass") == 8_000


def test_search_gives_up_below_the_floor() -> None:
    steps = search(server_with_capacity(10.0), 1000.0, 3)
    assert not [s for s in steps if s.outcome == "pass"] and min(s.rate for s in steps) >= 50


def _summary(valid: bool = True, **slo) -> dict:
    entry = {"expr": "p99(latency) < 25ms", "verdict": "pass", "estimate": 10.0, "threshold": 25.0, "op": "<",
             "reason": "upper 95% bound 12 ms < 25 ms"} | slo
    return {"load": {"valid": valid, "invalid_reasons": [] if valid else ["lag"], "safety_valve_hit": False},
            "slos": [entry]}


@pytest.mark.parametrize(
    ("summary", "outcome"),
    [
        (_summary(), "pass"),
        (_summary(verdict="fail", estimate=40.0), "fail"),
        (_summary(verdict="inconclusive", estimate=30.0), "fail"),  # the estimate itself misses
        (_summary(verdict="inconclusive", estimate=20.0), "fail"),  # not shown to hold
        (_summary(valid=False), "generator-bound"),
        (_summary(valid=False, verdict="fail", estimate=40.0), "fail"),  # the target missed anyway
        (_summary(estimate=None), "fail"),
    ],
    ids=["pass", "fail", "estimate-misses", "unproven", "generator", "miss-on-invalid", "no-data"],
)
def test_classify_keeps_the_generators_limits_apart(summary: dict, outcome: str) -> None:
    assert classify(summary)[0] == outcome


def test_an_estimate_only_slo_needs_just_its_estimate() -> None:
    summary = _summary(verdict="inconclusive", estimate=20.0)
    assert classify(summary, estimate_only=("p99(latency) < 25ms",))[0] == "pass"
    missed = _summary(verdict="inconclusive", estimate=30.0)
    assert classify(missed, estimate_only=("p99(latency) < 25ms",))[0] == "fail"


def test_an_estimate_above_a_lower_bound_slo_holds() -> None:
    summary = _summary(expr="throughput >= 100/s", op=">=", threshold=100.0, estimate=120.0)
    assert classify(summary)[0] == "pass"



@settings(max_examples=300, deadline=None)
@given(capacity=st.floats(2, 50_000), start=st.floats(1, 20_000), bisections=st.integers(0, 6),
       max_steps=st.one_of(st.none(), st.integers(1, 12)))
def test_a_monotone_slo_leaves_the_true_limit_inside_the_bracket(capacity, start, bisections, max_steps) -> None:
    """Whatever the start and limits, what passed is at or under the limit and what missed is above it."""
    steps = search(server_with_capacity(capacity), start, bisections, floor=1.0, max_steps=max_steps)
    found = bracket(steps)
    assert max_steps is None or len(steps) <= max_steps
    if found.highest_pass is not None:
        assert found.highest_pass <= capacity
    if found.lowest_miss is not None:
        assert found.lowest_miss > capacity
    if found.highest_pass is not None and found.lowest_miss is not None:
        assert found.ended_by == "bracketed" and found.width > 0


@settings(max_examples=200, deadline=None)
@given(capacity=st.floats(100, 50_000), bisections=st.integers(0, 4), unlucky=st.sets(st.integers(0, 30)))
def test_confirmed_misses_survive_one_transient_miss_per_rate(capacity, bisections, unlucky) -> None:
    """A box that sinks the first run of some steps (whole-machine stalls) cannot pull the
    bracket under the limit once every miss is run again."""
    calls: list[float] = []
    honest = server_with_capacity(capacity)

    def stalling(rate: float) -> Step:
        calls.append(rate)
        first_run_here = calls.count(rate) == 1
        return Step(rate, "fail") if first_run_here and len(calls) - 1 in unlucky else honest(rate)

    retried: list[Step] = []
    steps = search(confirming(stalling, retried), 1000.0, bisections)
    found = bracket(steps)
    assert found.highest_pass is not None and found.highest_pass <= capacity
    assert found.lowest_miss is None or found.lowest_miss > capacity
    assert all(step.outcome == "fail" for step in retried)


def test_the_bracket_says_how_the_search_ended() -> None:
    assert bracket(search(server_with_capacity(5_000), 1000.0, 2)).ended_by == "bracketed"
    assert bracket(search(server_with_capacity(1e9), 1000.0, 2, ceiling=8_000)).ended_by == "no miss up to the ceiling"
    assert bracket(search(server_with_capacity(1.0), 1000.0, 2)).ended_by == "no pass above the floor"
    limited = bracket(search(server_with_capacity(50_000, generator_limit=9_000), 1000.0, 3))
    assert (limited.ended_by, limited.highest_pass, limited.lowest_miss) == ("generator-bound", 8_000, 16_000)


def test_a_step_limit_ends_the_search_where_it_stands() -> None:
    plan = RateSearch(100.0, bisections=5, max_steps=3)
    while (rate := plan.next_rate()) is not None:
        plan.record(Step(rate, "pass"))
    assert [s.rate for s in plan.steps] == [100.0, 200.0, 400.0]
    assert bracket(plan.steps).ended_by == "no miss up to the ceiling"
