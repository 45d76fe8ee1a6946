"""analyze(): verdicts, load validity, failures, warm-up, phases and the series plots need."""

from __future__ import annotations

import json
import math

import numpy as np
import orjson
import pandas as pd
import pytest

from harness.analysis import AnalysisSpec, PhaseSpec, Scalar, analyze, overall_verdict
from harness.analysis.synthetic import synthetic_records
from harness.records import empty_frame

STEADY = (PhaseSpec("steady", 0.0, 30.0, 100.0),)


def run(records: pd.DataFrame, telemetry: pd.DataFrame | None = None, **spec: object) -> dict:
    spec.setdefault("phases", STEADY)
    return analyze(records, telemetry, AnalysisSpec(**spec)).summary


def test_healthy_run_passes_and_fills_the_summary() -> None:
    records = synthetic_records(3000, rate=100.0, median_ms=5.0, sigma=0.3)
    summary = run(records, slos=["p95(latency) < 300ms", "p99(latency) < 1s", "availability >= 99%", "error_rate < 1%"])
    assert summary["verdict"] == "pass"
    assert [slo["verdict"] for slo in summary["slos"]] == ["pass"] * 4
    load = summary["load"]
    assert load["valid"] and load["invalid_reasons"] == []
    assert load["requests"] == 3000 and load["target_rate"] == 100.0 and load["achieved_rate"] == pytest.approx(100.0)
    assert set(load["schedule_lag_ms"]) == {"p50", "p99", "max"}
    assert summary["latency_ms"]["p50"] == pytest.approx(5.0, rel=0.05)
    assert summary["latency_ms"]["n"] == 3000
    assert summary["errors"] == {"total": 0, "by_status": {}, "by_kind": {}}
    assert summary["availability"]["estimate"] == 1.0


def test_overall_verdict_precedence() -> None:
    assert overall_verdict(True, []) == "pass"
    assert overall_verdict(True, ["pass", "inconclusive"]) == "inconclusive"
    assert overall_verdict(True, ["inconclusive", "fail", "pass"]) == "fail"
    assert overall_verdict(False, ["pass"]) == "invalid"


def test_empty_records() -> None:
    summary = run(empty_frame(), slos=["p99(latency) < 1s", "availability >= 99.9%"], phases=())
    assert summary["verdict"] == "inconclusive"
    assert summary["load"]["requests"] == 0 and summary["latency_ms"]["n"] == 0
    assert [slo["reason"] for slo in summary["slos"]] == ["no requests after warm-up"] * 2
    assert run(empty_frame(), phases=())["verdict"] == "pass"
    # an open-loop phase that sent nothing is not a measurement at all
    assert run(empty_frame(), slos=["p99(latency) < 1s"])["verdict"] == "invalid"


def test_all_failures() -> None:
    records = synthetic_records(3000, rate=100.0, error_rate=1.0)
    summary = run(records, slos=["p99(latency) < 1s", "availability >= 99%", "p50(time_to_first_byte) < 1s"])
    verdicts = {slo["expr"]: slo["verdict"] for slo in summary["slos"]}
    assert verdicts == {  # every request failed: every latency is slower than any threshold
        "p99(latency) < 1s": "fail",
        "availability >= 99%": "fail",
        "p50(time_to_first_byte) < 1s": "fail",
    }
    assert summary["verdict"] == "fail"
    errors = summary["errors"]
    assert errors["total"] == 3000
    assert errors["by_kind"]["timeout"] + errors["by_kind"]["http"] == 3000
    assert errors["by_status"]["0"] == errors["by_kind"]["timeout"] and "503" in errors["by_status"]
    assert summary["availability"]["estimate"] == 0.0


def test_latency_counts_every_request_failures_as_unbounded() -> None:
    records = synthetic_records(5000, rate=100.0, median_ms=10.0, error_rate=0.2, phases=1)
    records.loc[records["error_kind"].notna(), "done_ns"] += 10**10  # failures took 10 s
    summary = run(records, phases=(PhaseSpec("steady", 0.0, 50.0, 100.0),), slos=["p50(time_to_first_byte) < 1s"])
    assert math.isinf(summary["latency_ms"]["max"]) and summary["latency_ms"]["p50"] < 1000.0
    assert summary["latency_ms"]["n"] == 5000 and summary["latency_ms"]["censored"] == summary["errors"]["total"]
    assert summary["slos"][0]["n"] == 5000 and summary["slos"][0]["verdict"] == "pass"


def test_warmup_is_excluded_from_judgement_but_drawn() -> None:
    records = synthetic_records(3000, rate=100.0, warmup_s=5.0, median_ms=5.0)
    records.loc[records["in_warmup"], "done_ns"] += 2 * 10**9  # a slow cold start
    result = analyze(records, None, AnalysisSpec(slos=["max(latency) < 1s"], phases=STEADY, warmup_s=5.0))
    assert result.summary["slos"][0]["verdict"] == "pass"
    assert result.summary["latency_ms"]["n"] == 2500 and result.summary["load"]["measured_requests"] == 2500
    assert result.summary["measured_duration_s"] == 25.0
    scatter = result.series["scatter"]
    assert scatter["warmup"].sum() == 500 and scatter["latency_ms"][scatter["warmup"]].min() > 2000.0


def test_lag_makes_the_run_invalid() -> None:
    records = synthetic_records(3000, rate=100.0, lag_ms=3.0)
    summary = run(records, slos=["p99(latency) < 1s"])
    assert summary["verdict"] == "invalid" and not summary["load"]["valid"]
    assert summary["load"]["schedule_lag_ms"]["p99"] > 1.0
    assert "schedule lag p99" in summary["load"]["invalid_reasons"][0]
    assert run(records, max_lag_p99_ms=50.0)["load"]["valid"]


def test_a_generator_behind_in_time_misses_its_rate_per_phase() -> None:
    """Every request of phase p3 got sent, its last 20 after the phase (and the lag limit) had ended."""
    records = synthetic_records(4000, rate=100.0, phases=4)
    phases = tuple(PhaseSpec(f"p{i}", 10.0 * i, 10.0 * (i + 1), 100.0) for i in range(4))
    spec = {"phases": phases, "rate_tolerance": 0.01}
    assert run(records, **spec)["load"]["valid"]
    late = records.index[records["intended_ns"] >= 39_800_000_000]
    records.loc[late, "sent_ns"] = 41_500_000_000
    records.loc[late, "done_ns"] = records.loc[late, "sent_ns"] + 10_000_000
    summary = run(records, **spec)
    assert summary["verdict"] == "invalid"
    (reason,) = summary["load"]["invalid_reasons"]  # the lag tail is too thin to move p99: only the rate sees it
    assert reason.startswith("phase p3: sent 98 req/s inside its window vs target 100 req/s (-2.0%")
    assert [phase["requests"] for phase in summary["phases"]] == [1000] * 4
    assert summary["phases"][3]["sent_in_window"] == 980
    closed = (*phases[:3], PhaseSpec("p3", 30.0, 40.0, None))
    assert run(records, phases=closed, rate_tolerance=0.01)["load"]["valid"]  # closed loop has no rate to hold


def test_the_lag_is_checked_at_every_judged_percentile() -> None:
    """A lag tail in 0.5% of requests leaves p99 alone and sets p99.9(latency)."""
    records = synthetic_records(4000, rate=100.0, lag_ms=0.02, median_ms=5.0, sigma=0.2, seed=8)
    tail = records.index[np.arange(len(records)) % 200 == 0]
    records.loc[tail, ["sent_ns", "done_ns"]] += 5_000_000
    phases = (PhaseSpec("steady", 0.0, 40.0, 100.0),)
    assert run(records, phases=phases, slos=["p99(latency) < 1s"])["load"]["valid"]
    assert run(records, phases=phases, slos=["p99.9(service_time) < 1s"])["load"]["valid"]  # no lag inside it
    judged = run(records, phases=phases, slos=["p99.9(latency) < 1s"])
    assert not judged["load"]["valid"] and judged["load"]["schedule_lag_ms"]["p99.9"] > 1.0
    assert judged["load"]["invalid_reasons"][0].startswith("schedule lag p99.9 ")
    assert "(p99.9 of a metric from the intended time is judged)" in judged["load"]["invalid_reasons"][0]


def test_joint_confidence_is_stated_and_can_be_held() -> None:
    records = synthetic_records(3000, rate=100.0, median_ms=5.0, sigma=0.3)
    slos = ["p95(latency) < 300ms", "p99(latency) < 1s", "error_rate < 1%", "availability >= 99%"]
    stated = run(records, slos=slos)["joint_confidence"]
    assert stated == {"slos": 4, "per_slo": 0.95, "at_least": pytest.approx(0.8), "adjusted": False}
    held = run(records, slos=slos, joint_confidence=True)
    assert held["joint_confidence"]["per_slo"] == pytest.approx(1 - 0.05 / 4)
    assert held["joint_confidence"]["at_least"] == pytest.approx(0.95)
    assert [slo["confidence"] for slo in held["slos"]] == [pytest.approx(0.9875)] * 4


def test_safety_valve_and_runner_reasons_make_the_run_invalid() -> None:
    summary = run(synthetic_records(3000, rate=100.0), safety_valve_hit=True, extra_invalid_reasons=["interrupted (Ctrl-C)"])
    assert summary["verdict"] == "invalid"
    valve, interrupted = summary["load"]["invalid_reasons"]
    assert "safety valve" in valve and interrupted == "interrupted (Ctrl-C)"


def test_goodput_counts_requests_meeting_every_per_request_slo() -> None:
    records = synthetic_records(3000, rate=100.0, median_ms=20.0, sigma=0.5)
    summary = run(records, slos=["p90(latency) < 20ms", "goodput > 1/s"])
    latency = (records["done_ns"] - records["intended_ns"]).to_numpy() / 1e6
    assert summary["goodput"]["estimate"] == pytest.approx((latency < 20.0).sum() / 30.0)
    assert summary["goodput"]["estimate"] < summary["throughput"]["estimate"] == pytest.approx(100.0)


def test_extra_scalars_are_judged() -> None:
    spec = {"slos": ["time_to_ready < 30s", "canary_score >= 0.9"], "extra_scalars": {"time_to_ready": Scalar(12_000.0, "ms")}}
    summary = run(synthetic_records(3000, rate=100.0), **spec)
    assert [slo["verdict"] for slo in summary["slos"]] == ["pass", "inconclusive"]


def test_telemetry_summary_takes_whatever_columns_exist() -> None:
    telemetry = pd.DataFrame(
        {"t_ns": np.arange(5) * 10**9, "cpu_percent": [10.0, 20.0, np.nan, 40.0, 30.0], "host": ["a"] * 5, "rss_bytes": 1e8}
    )
    summary = run(synthetic_records(100), telemetry)
    assert summary["telemetry"]["cpu_percent"] == {"min": 10.0, "mean": 25.0, "max": 40.0, "last": 30.0, "n": 4}
    assert "host" not in summary["telemetry"] and summary["telemetry"]["rss_bytes"]["max"] == 1e8
    assert run(synthetic_records(100), pd.DataFrame())["telemetry"] == {}
    assert run(synthetic_records(100), pd.DataFrame({"t_ns": [], "cpu_percent": []}))["telemetry"] == {}


def test_series_holds_what_the_plots_draw() -> None:
    records = synthetic_records(60_000, rate=2000.0, error_rate=0.01, warmup_s=2.0)
    phases = (PhaseSpec("a", 0.0, 15.0, 2000.0), PhaseSpec("b", 15.0, 30.0, 2000.0))
    spec = AnalysisSpec(slos=["p99(latency) < 80ms", "availability > 90%"], phases=phases, warmup_s=2.0, events=[(10.0, "kill")])
    series = analyze(records, None, spec).series
    scatter = series["scatter"]
    assert scatter["total"] == 60_000 and len(scatter["t_s"]) <= 20_000
    slowest = np.sort((records["done_ns"] - records["intended_ns"]).to_numpy() / 1e6)[-60:]
    assert np.isin(slowest, scatter["latency_ms"]).all()  # the slowest 0.1% survive downsampling
    failures = (records["error_kind"].notna()).sum()
    assert (~scatter["ok"]).sum() == failures  # and so does every failure (600 here)
    per_second = series["per_second"]
    assert per_second["scheduled"].sum() == per_second["sent"].sum() == 60_000
    errors = sum(counts.sum() for counts in per_second["errors_by_kind"].values())
    assert per_second["ok"].sum() + errors == 60_000
    cdf = series["latency_cdf"]
    finite = np.isfinite(cdf["lo"]) & np.isfinite(cdf["hi"])
    assert np.all(np.diff(cdf["latency_ms"]) >= 0)
    assert np.all((cdf["lo"][finite] <= cdf["latency_ms"][finite]) & (cdf["latency_ms"][finite] <= cdf["hi"][finite]))
    assert series["slo_lines"] == [{"expr": "p99(latency) < 80ms", "metric": "latency", "stat": "p99", "q": 0.99, "threshold": 80.0}]
    assert series["events"] == [{"t_s": 10.0, "label": "kill"}] and len(series["phases"]) == 2


def test_spec_survives_summary_json() -> None:
    spec = AnalysisSpec(
        slos=["p99(latency) < 1s"],
        phases=[PhaseSpec("a", 0.0, 10.0, 50.0), PhaseSpec("b", 10.0, 20.0, None)],
        warmup_s=2.0,
        extra_invalid_reasons=["interrupted"],
        extra_scalars={"time_to_ready": Scalar(math.nan, "ms", (1.0, 2.0), 3)},
        events=[(5.0, "fault")],
    )
    stored = json.loads(orjson.dumps(spec.to_dict()))
    rebuilt = AnalysisSpec.from_dict(stored)
    assert math.isnan(rebuilt.extra_scalars["time_to_ready"].value)
    assert json.loads(orjson.dumps(rebuilt.to_dict())) == stored
    assert rebuilt.phases == spec.phases and rebuilt.events == spec.events
    assert rebuilt.extra_invalid_reasons == ("interrupted",)


def test_confidence_must_be_sensible() -> None:
    with pytest.raises(ValueError):
        AnalysisSpec(confidence=95)


def test_the_summary_says_what_latency_counts_from_and_names_the_closed_loops() -> None:
    records = synthetic_records(3000, rate=100.0, median_ms=5.0, sigma=0.3)
    open_loop = run(records)["load"]
    assert open_loop["closed_loop_phases"] == []
    assert open_loop["latency_counts_from"].startswith("the intended send time")
    mixed = run(records, phases=(PhaseSpec("steady", 0.0, 15.0, 100.0), PhaseSpec("users", 15.0, 30.0)))["load"]
    assert mixed["closed_loop_phases"] == ["users"]  # no rate: a closed loop, whoever ran it
    assert mixed["latency_counts_from"].startswith("the send time in the closed-loop phase users:")
    assert "queueing" in mixed["latency_counts_from"] and "(coordinated omission)" in mixed["latency_counts_from"]
