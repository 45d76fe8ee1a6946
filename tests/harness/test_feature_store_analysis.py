"""The feature_store section against records whose truth is planted: which answers a fallback
served, when, why, and how much slower they were."""

from __future__ import annotations

import numpy as np

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.analysis.synthetic import synthetic_records
from harness.clock import NS_PER_MS, NS_PER_S
from harness.contracts import FaultSpan

KILL = FaultSpan("store_killed", "kill", "kill features", 4.0, 8.0, ends_when_ready=True)
PAUSE = FaultSpan("store_paused", "pause", "pause features 4s", 12.0, 16.0)


def records(n: int = 2000):
    """20 s at 100 req/s: the store serves, except while it is dead (4-8 s), where the fallback
    answers as fast (a refused connection), and while it is paused (12-16 s), where every
    answer is a timeout's fallback 20 ms later than it would have been."""
    frame = synthetic_records(n, rate=100.0, median_ms=3.0, sigma=0.3, seed=3)
    intended_s = frame["intended_ns"].to_numpy() / NS_PER_S
    dead = (intended_s >= KILL.start_s) & (intended_s < KILL.end_s)
    paused = (intended_s >= PAUSE.start_s) & (intended_s < PAUSE.end_s)
    frame["feature_source"] = np.where(paused, "fallback:timeout", np.where(dead, "fallback:unavailable", "store"))
    frame.loc[paused, "done_ns"] += 20 * NS_PER_MS
    return frame, dead | paused


def spec(**changes) -> AnalysisSpec:
    return AnalysisSpec(**{"slos": ["fallback_rate < 50%", "fallback_latency_cost < 25ms"],
                           "phases": [PhaseSpec("steady", 0.0, 20.0, 100.0)], "faults": (KILL, PAUSE), **changes})


def test_the_fallback_rate_and_its_cost_are_the_planted_ones() -> None:
    frame, fell_back = records()
    result = analyze(frame, None, spec())
    section = result.summary["feature_store"]
    assert section["fallback"]["k"] == fell_back.sum() == 800 and section["fallback"]["n"] == 2000
    low, high = section["fallback"]["ci"]
    assert low < 0.4 < high and high - low < 0.05
    reasons = section["reasons"]
    assert reasons["timeout"]["n"] == reasons["unavailable"]["n"] == 400 and set(reasons) == {"timeout", "unavailable"}
    timeout, unavailable = reasons["timeout"]["latency_cost"]["ci"], reasons["unavailable"]["latency_cost"]["ci"]
    assert timeout[0] < 20 < timeout[1] and timeout[1] - timeout[0] < 2  # the 20 ms timeout
    assert unavailable[0] < 0 < unavailable[1]  # a refused connection costs nothing
    cost = result.summary["slos"][1]
    assert cost["estimate"] == reasons["timeout"]["latency_cost"]["shift_ms"] and cost["verdict"] == "pass"
    assert [fault["fallback"]["share"] for fault in section["faults"]] == [1.0, 1.0]
    per_second = section["per_second"]
    assert per_second["fallbacks"][4:8] == per_second["fallbacks"][12:16] == [100] * 4
    assert sum(per_second["fallbacks"]) == 800 and result.summary["slos"][0]["verdict"] == "pass"


def test_a_gate_tighter_than_the_fallback_fails() -> None:
    frame, _ = records()
    result = analyze(frame, None, spec(slos=["fallback_rate < 30%", "fallback_latency_cost < 15ms"]))
    assert {slo["verdict"] for slo in result.summary["slos"]} == {"fail"}


def test_failures_and_warm_up_are_left_out_and_a_run_without_a_lookup_has_no_section() -> None:
    frame, _ = records()
    frame.loc[:99, "in_warmup"] = True
    frame.loc[500:509, ["error_kind", "feature_source"]] = ["http", None]  # a 503 says nothing of its features
    assert analyze(frame, None, spec(warmup_s=1.0)).summary["feature_store"]["fallback"]["n"] == 1890
    frame["feature_source"] = None
    assert "feature_store" not in analyze(frame, None, spec(slos=[])).summary
