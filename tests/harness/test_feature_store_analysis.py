"""The feature_store section against records whose truth is planted: which answers a fallback
served, when, why, and how much slower they were."""

from __future__ import annotations

import numpy as np

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.analysis.synthetic import synthetic_records
from harness.clock import NS_PER_MS, NS_PER_S
from harness.contracts import FaultSpan

PAUSE = FaultSpan("store_paused", "pause", "pause features 4s", 10.0, 14.0)


def records(n: int = 2000):
    """20 s at 100 req/s: the store serves, except while it is paused (10-14 s), where every
    answer is a timeout's fallback 20 ms later than it would have been."""
    frame = synthetic_records(n, rate=100.0, median_ms=3.0, sigma=0.3, seed=3)
    intended_s = frame["intended_ns"].to_numpy() / NS_PER_S
    paused = (intended_s >= PAUSE.start_s) & (intended_s < PAUSE.end_s)
    frame["feature_source"] = np.where(paused, "fallback:timeout", "store")
    frame.loc[paused, "done_ns"] += 20 * NS_PER_MS
    return frame, paused


def spec(**changes) -> AnalysisSpec:
    return AnalysisSpec(**{"slos": ["fallback_rate < 25%", "fallback_latency_cost < 25ms"],
                           "phases": [PhaseSpec("steady", 0.0, 20.0, 100.0)], "faults": (PAUSE,), **changes})


def test_the_fallback_rate_and_its_cost_are_the_planted_ones() -> None:
    frame, paused = records()
    result = analyze(frame, None, spec())
    section = result.summary["feature_store"]
    assert section["fallback"]["k"] == paused.sum() == 400 and section["fallback"]["n"] == 2000
    low, high = section["fallback"]["ci"]
    assert low < 0.2 < high and high - low < 0.04
    cost = section["latency_cost"]
    assert cost["ci"][0] < 20 < cost["ci"][1] and cost["ci"][1] - cost["ci"][0] < 2  # the 20 ms timeout
    assert section["reasons"]["timeout"]["n"] == 400 and set(section["reasons"]) == {"timeout"}
    assert section["reasons"]["timeout"]["latency_cost"] == cost  # one reason: its cost is the whole cost
    (fault,) = section["faults"]
    assert fault["name"] == "store_paused" and fault["fallback"]["share"] == 1.0
    per_second = section["per_second"]
    assert per_second["fallbacks"][10:14] == [100] * 4 and sum(per_second["fallbacks"]) == 400
    verdicts = {slo["expr"]: slo["verdict"] for slo in result.summary["slos"]}
    assert verdicts == {"fallback_rate < 25%": "pass", "fallback_latency_cost < 25ms": "pass"}


def test_a_gate_tighter_than_the_fallback_fails() -> None:
    frame, _ = records()
    result = analyze(frame, None, spec(slos=["fallback_rate < 10%", "fallback_latency_cost < 10ms"]))
    assert {slo["verdict"] for slo in result.summary["slos"]} == {"fail"}


def test_failures_and_warm_up_are_left_out_and_a_run_without_a_lookup_has_no_section() -> None:
    frame, _ = records()
    frame.loc[:99, "in_warmup"] = True
    frame.loc[500:509, ["error_kind", "feature_source"]] = ["http", None]  # a 503 says nothing of its features
    assert analyze(frame, None, spec(warmup_s=1.0)).summary["feature_store"]["fallback"]["n"] == 1890
    frame["feature_source"] = None
    assert "feature_store" not in analyze(frame, None, spec(slos=[])).summary
