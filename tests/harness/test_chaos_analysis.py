"""Chaos analysis against known truths: synthetic runs with outages of known start, end and
recovery, judged in windows, with recovery figures and error budgets read off them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.analysis.spec import BurnWindow, RecoverySpec
from harness.analysis.synthetic import synthetic_records
from harness.analysis.windows import Timeline, clip, subtract, union
from harness.contracts import FaultSpan

RATE = 100.0
DURATION_S = 60.0


def outage(records: pd.DataFrame, start_s: float, end_s: float, kind: str = "connect") -> pd.DataFrame:
    """Every request intended in [start, end) fails fast, as against a killed server."""
    records = records.copy()
    t = records["intended_ns"].to_numpy() / 1e9
    down = (t >= start_s) & (t < end_s)
    records.loc[down, "error_kind"] = kind
    records.loc[down, "status"] = 0
    records.loc[down, "done_ns"] = records.loc[down, "sent_ns"] + 1_000_000
    return records


def slowdown(records: pd.DataFrame, start_s: float, end_s: float, ms: float) -> pd.DataFrame:
    records = records.copy()
    t = records["intended_ns"].to_numpy() / 1e9
    slow = (t >= start_s) & (t < end_s)
    records.loc[slow, "done_ns"] = records.loc[slow, "intended_ns"] + int(ms * 1e6)
    return records


def run(records: pd.DataFrame, slos: tuple[str, ...], faults: tuple[FaultSpan, ...], **spec) -> dict:
    spec = AnalysisSpec(slos=slos, phases=(PhaseSpec("steady", 0.0, DURATION_S, RATE),), faults=faults,
                        recovery=spec.pop("recovery", RecoverySpec(window_s=1.0, hold_s=5.0, allowance_s=5.0)),
                        **spec)
    return analyze(records, None, spec).summary


def base(seed: int = 0) -> pd.DataFrame:
    return synthetic_records(int(RATE * DURATION_S), rate=RATE, median_ms=5.0, sigma=0.3, seed=seed)


def kill(name: str, start_s: float, ready_s: float | None) -> FaultSpan:
    return FaultSpan(name, "kill", "kill", start_s, ready_s, ends_when_ready=True)


def test_unscoped_slos_are_judged_before_and_after_and_reported_during() -> None:
    records = outage(base(), 20.0, 25.0)
    summary = run(records, ("availability >= 99%", "p90(latency) < 50ms"), (kill("k", 20.0, 25.0),))
    rows = {(r["expr"], r["window"]): r for r in summary["slos"]}
    for expr in ("availability >= 99%", "p90(latency) < 50ms"):
        assert rows[(expr, "before")]["verdict"] == "pass" and rows[(expr, "after")]["verdict"] == "pass"
        assert rows[(expr, "during")]["verdict"] == "fail" and rows[(expr, "during")]["judged"] is False
    assert summary["verdict"] == "pass"  # the outage is expected to hurt; before and after hold
    assert rows[("availability >= 99%", "before")]["window_s"] == pytest.approx(20.0)
    assert rows[("availability >= 99%", "after")]["window_s"] == pytest.approx(DURATION_S - 30.0)
    assert [r["window"] for r in summary["slos"]][:2] == ["before", "before"]  # grouped by window


def test_requests_in_flight_when_a_kill_starts_are_its_victims_not_the_calm_befores() -> None:
    """A kill fails what the server holds: requests sent just before it, failing just after.
    Counted in `before` they are a burst at its end that makes a healthy service inconclusive."""
    records = outage(base(), 20.0, 25.0)
    t = records["intended_ns"].to_numpy() / 1e9
    held = (t >= 19.9) & (t < 20.0)  # ten requests in the server when it dies
    records.loc[held, "error_kind"] = "reset"
    records.loc[held, "done_ns"] = int(20.001e9)
    summary = run(records, ("availability >= 99.5% in before",), (kill("k", 20.0, 25.0),))
    (before,) = summary["slos"]
    assert before["verdict"] == "pass", before
    assert before["n"] == int((t < 19.9).sum())
    during = run(records, ("availability >= 99.5% in during",), (kill("k", 20.0, 25.0),))["slos"][0]
    assert during["verdict"] == "fail"


def test_a_window_that_names_the_fault_and_judge_during() -> None:
    records = outage(base(), 20.0, 25.0)
    faults = (kill("k", 20.0, 25.0),)
    summary = run(records, ("availability >= 99% in during(k)", "availability >= 99% in steady"), faults)
    verdicts = [(r["window"], r["verdict"], r["judged"]) for r in summary["slos"]]
    assert verdicts == [("during(k)", "fail", True), ("steady", "pass", True)]
    assert summary["verdict"] == "fail"
    judged = run(records, ("availability >= 99%",), faults,
                 recovery=RecoverySpec(window_s=1.0, hold_s=5.0, allowance_s=5.0, judge_during=True))
    assert judged["verdict"] == "fail"


def test_recovery_figures_of_a_kill_match_the_outage() -> None:
    """Down 20-25 s (ready at 25 s), then slow until 27 s: detect within a window of the
    kill, restart 5 s, recovered about 2 s after ready."""
    records = slowdown(outage(base(), 20.0, 25.0), 25.0, 27.0, 200.0)
    summary = run(records, ("p90(latency) < 50ms", "recovery_time < 10s", "restart_time < 6s"),
                  (kill("k", 20.0, 25.0),))
    (fault,) = summary["chaos"]["faults"]
    assert 0 < fault["time_to_detect_ms"] <= 1000 + 250
    assert fault["restart_time_ms"] == pytest.approx(5000)
    assert 1500 <= fault["recovery_time_ms"] <= 3000
    assert fault["failed_during"]["total"] == pytest.approx(500, abs=2)
    assert fault["failed_during"]["connect"] == fault["failed_during"]["total"]
    assert fault["throughput_dip"] == 0.0
    assert {r["expr"]: r["verdict"] for r in summary["slos"]}["recovery_time < 10s"] == "pass"


def test_a_server_that_never_comes_back_fails_recovery_time() -> None:
    records = outage(base(), 20.0, DURATION_S)
    summary = run(records, ("recovery_time < 10s", "restart_time < 20s"), (kill("k", 20.0, None),))
    verdicts = {r["expr"]: r for r in summary["slos"]}
    assert verdicts["recovery_time < 10s"]["verdict"] == "fail"
    assert verdicts["restart_time < 20s"]["verdict"] == "fail"
    assert math.isinf(summary["chaos"]["faults"][0]["recovery_time_ms"])
    assert summary["verdict"] == "fail"


def test_a_recovery_the_run_ends_too_soon_to_confirm_is_not_a_recovery() -> None:
    records = outage(base(), 20.0, 57.0)
    summary = run(records, ("recovery_time < 10s",), (kill("k", 20.0, 57.0),))
    assert math.isinf(summary["chaos"]["faults"][0]["recovery_time_ms"])  # 3 s left < the 5 s hold


def test_repeated_faults_give_recovery_time_an_interval() -> None:
    records = base()
    faults = []
    for start, slow_for in ((10.0, 1.0), (25.0, 1.5), (40.0, 2.0)):
        records = slowdown(outage(records, start, start + 2.0), start + 2.0, start + 2.0 + slow_for, 300.0)
        faults.append(kill(f"k{int(start)}", start, start + 2.0))
    summary = run(records, ("p90(latency) < 50ms", "recovery_time < 10s"), tuple(faults))
    row = next(r for r in summary["slos"] if r["expr"] == "recovery_time < 10s")
    assert row["n"] == 3 and "student-t" in row["method"]
    assert row["ci"][0] < row["estimate"] < row["ci"][1]
    assert 1000 <= row["estimate"] <= 3000 and row["verdict"] == "pass"


def test_an_slo_naming_one_fault_judges_that_faults_recovery_alone() -> None:
    """A quick kill and a slow one: over both faults recovery_time is their mean; named, each its own."""
    records = slowdown(outage(base(), 10.0, 12.0), 12.0, 12.5, 300.0)
    records = slowdown(outage(records, 30.0, 32.0), 32.0, 38.0, 300.0)
    faults = (kill("quick", 10.0, 12.0), kill("slow", 30.0, 32.0))
    slos = ("p90(latency) < 50ms", "recovery_time < 3s in after(quick)", "recovery_time < 3s in after(slow)",
            "restart_time < 3s in during(slow)", "recovery_time < 3s in after(nobody)")
    summary = run(records, slos, faults)
    rows = {r["expr"]: r for r in summary["slos"]}
    figures = {f["name"]: f for f in summary["chaos"]["faults"]}
    quick, slow = rows["recovery_time < 3s in after(quick)"], rows["recovery_time < 3s in after(slow)"]
    assert quick["estimate"] == figures["quick"]["recovery_time_ms"] and quick["verdict"] == "pass"
    assert slow["estimate"] == figures["slow"]["recovery_time_ms"] and slow["verdict"] == "fail"
    assert (quick["window"], slow["window"]) == ("after(quick)", "after(slow)")
    assert rows["restart_time < 3s in during(slow)"]["estimate"] == pytest.approx(2000)
    assert rows["recovery_time < 3s in after(nobody)"]["verdict"] == "inconclusive"
    assert "no fault named 'nobody'" in rows["recovery_time < 3s in after(nobody)"]["reason"]
    assert not any("@" in key for key in summary["chaos"])  # each fault's figures live in its `faults` entry


def test_a_fault_that_never_shows_is_not_detected() -> None:
    summary = run(base(), ("p90(latency) < 50ms",), (FaultSpan("noop", "latency", "latency", 20.0, 25.0),))
    (fault,) = summary["chaos"]["faults"]
    assert math.isnan(fault["time_to_detect_ms"])
    assert fault["recovery_time_ms"] <= 250  # healthy from the first window after its end


def test_error_budget_consumed_is_the_bad_share_over_the_budget() -> None:
    records = outage(base(), 20.0, 23.0)  # 300 of 6,000 requests fail: 5%
    summary = run(records, ("availability >= 90%", "error_budget_consumed < 60%"),
                  (FaultSpan("burst", "error", "error", 20.0, 23.0),))
    (objective,) = summary["budget"]["objectives"]
    assert objective["budget"] == pytest.approx(0.10)
    assert objective["consumed"] == pytest.approx(0.5, abs=0.01)
    assert objective["consumed_ci"][0] < 0.5 < objective["consumed_ci"][1]
    verdicts = {r["expr"]: r["verdict"] for r in summary["slos"] if r["window"] == "run"}
    assert verdicts["error_budget_consumed < 60%"] == "pass"
    assert run(records, ("availability >= 90%", "error_budget_consumed < 40%"),
               (FaultSpan("burst", "error", "error", 20.0, 23.0),))["verdict"] == "fail"


def test_latency_budgets_count_slow_and_failed_requests() -> None:
    records = slowdown(outage(base(), 20.0, 21.0), 30.0, 32.0, 500.0)  # 100 failed + 200 slow of 6,000
    summary = run(records, ("p99(latency) < 100ms",), (), burn_windows=(BurnWindow(14.4, 10.0, 1.0),))
    (objective,) = summary["budget"]["objectives"]
    assert objective["consumed"] == pytest.approx(300 / 6000 / 0.01, rel=0.02)


def test_the_fast_burn_alert_fires_on_an_outage_and_resets_after_it() -> None:
    records = outage(base(), 30.0, 36.0)
    pairs = (BurnWindow(14.4, 10.0, 1.0),)
    summary = run(records, ("availability >= 99%",), (kill("k", 30.0, 36.0),), burn_windows=pairs)
    (alert,) = summary["budget"]["objectives"][0]["alerts"]
    (episode,) = alert["episodes"]
    # the long window's bad share passes 14.4% (burn 14.4 of a 1% budget) ~1.44 s into the outage
    assert 30.0 + 1.2 <= episode["fired_s"] <= 30.0 + 2.0
    assert 36.0 <= episode["reset_s"] <= 36.0 + 1.5  # the short window clears first
    assert 1200 <= alert["time_to_page_ms"]["k"] <= 2000
    assert summary["budget"]["max_burn_rate"] == pytest.approx(60, rel=0.05)  # 6 s of 10 s down: 60% bad / 1%


def test_no_budget_without_a_target_share() -> None:
    summary = run(base(), ("mean(latency) < 50ms",), ())
    assert "budget" not in summary and "chaos" not in summary


def test_windows_cut_from_the_timeline() -> None:
    timeline = Timeline((2.0, 60.0), (kill("a", 10.0, 15.0), kill("b", 30.0, None)), 5.0)
    assert timeline.window("before").intervals == ((2.0, 10.0),)
    assert timeline.window("after", "a").intervals == ((20.0, 30.0),)
    assert timeline.window("after").intervals == ()  # b lasted to the end
    assert timeline.window("during").intervals == ((10.0, 15.0), (30.0, 60.0))
    assert timeline.window("steady").intervals == ((2.0, 10.0), (20.0, 30.0))
    with pytest.raises(KeyError):
        timeline.window("after", "c")


spans = st.lists(st.tuples(st.floats(0, 100), st.floats(0, 30)).map(lambda t: (t[0], t[0] + t[1])), max_size=6)


@given(spans, spans)
@settings(max_examples=200, deadline=None)
def test_interval_algebra_matches_a_grid(a: list, b: list) -> None:
    grid = np.linspace(-1, 131, 2641) + 1e-6  # off the endpoints

    def member(intervals) -> np.ndarray:
        return np.array([any(lo <= x < hi for lo, hi in intervals) for x in grid], dtype=bool)

    ua, ub = union(a), union(b)
    assert (member(ua) == member(a)).all()
    assert (member(subtract(ua, ub)) == (member(a) & ~member(b))).all()
    assert (member(clip(ua, 20.0, 70.0)) == (member(a) & (grid >= 20) & (grid < 70))).all()
