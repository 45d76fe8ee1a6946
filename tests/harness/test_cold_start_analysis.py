"""The cold_start section's arithmetic against records whose truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.cold_start import met_cold, penalty, penalty_sample, share, steady_sample
from harness.analysis.synthetic import synthetic_records
from harness.clock import NS_PER_MS, NS_PER_S
from harness.records import NEVER

SPAWN = {"start": "spawn", "ready_s": 2.0, "spawned_s": 0.0, "first_successes": 5, "steady_after_s": 6.0, "lazy": None}
PARKED = {**SPAWN, "start": "parked", "ready_s": None, "spawned_s": None}


def records(n: int = 400, seed: int = 0) -> pd.DataFrame:
    frame = synthetic_records(n, rate=40.0, seed=seed)
    frame["model_version"] = np.where(np.arange(n) % 2 == 0, "1", "2")
    return frame


def test_a_spawn_marks_every_request_intended_before_ready_and_the_ones_that_waited() -> None:
    frame = records()
    frame.loc[300, "cold_wait_ns"] = 5 * NS_PER_MS  # a later load the server reported
    cold = met_cold(frame, SPAWN)
    before_ready = frame["intended_ns"].to_numpy() < 2 * NS_PER_S
    assert np.array_equal(cold, before_ready | (frame.index == 300))
    assert np.array_equal(met_cold(frame, PARKED), frame.index == 300)  # no spawn: only the server's word


def test_after_a_spawn_the_first_answers_are_the_first_successes_of_each_version() -> None:
    frame = records()
    frame.loc[frame.index[:40], "error_kind"] = "connect"  # start-up: nothing listened
    first = penalty_sample(frame, met_cold(frame, SPAWN), SPAWN)
    answered = frame[frame["error_kind"].isna()].sort_values("done_ns")
    for version in ("1", "2"):
        expected = answered[answered["model_version"] == version].index[:5]
        assert list(first[first["model_version"] == version].index) == list(expected)
    steady = steady_sample(frame, met_cold(frame, SPAWN), first, SPAWN)
    assert (steady["intended_ns"] >= 6 * NS_PER_S).all() and steady["error_kind"].isna().all()
    assert not set(steady.index) & set(first.index)


def test_with_scale_to_zero_the_first_answers_are_the_cold_successes() -> None:
    frame = records()
    frame.loc[[10, 11, 12], "cold_wait_ns"] = 300 * NS_PER_MS
    frame.loc[12, "error_kind"] = "timeout"
    first = penalty_sample(frame, met_cold(frame, PARKED), PARKED)
    assert list(first.index) == [10, 11]


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 500), extra=st.integers(0, 500))
def test_the_cold_start_rate_is_the_share_with_an_interval_around_it(k: int, extra: int) -> None:
    n = k + extra
    if n == 0:
        assert share(0, 0, 0.95)["ci"] is None
        return
    result = share(k, n, 0.95)
    assert result["share"] == pytest.approx(k / n)
    lo, hi = result["ci"]
    assert lo <= k / n <= hi


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(1.0, 50.0), seed=st.integers(0, 2**16))
def test_the_penalty_recovers_a_planted_slowdown_of_the_first_answers(factor: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    steady, first = records(2000, seed), records(400, seed + 1)
    base_ns = (rng.lognormal(np.log(10.0), 0.3, len(steady)) * NS_PER_MS).astype(np.int64)
    cold_ns = (rng.lognormal(np.log(10.0 * factor), 0.3, len(first)) * NS_PER_MS).astype(np.int64)
    for frame, latency_ns in ((steady, base_ns), (first, cold_ns)):
        frame["done_ns"] = frame["intended_ns"] + latency_ns
        frame["sent_ns"] = frame["intended_ns"]
        frame["first_byte_ns"] = NEVER
        frame["error_kind"] = None
    result = penalty(first, steady, 0.95, np.random.default_rng(seed))
    assert result["ratio"] == pytest.approx(factor, rel=0.12)
    assert result["ci"][0] <= result["ratio"] <= result["ci"][1]
    assert result["first_n"] == 400 and result["steady_n"] == 2000


def test_too_few_answers_give_no_penalty_rather_than_a_number() -> None:
    frame = records(40)
    assert penalty(frame.iloc[:1], frame, 0.95, np.random.default_rng(0))["ratio"] is None
