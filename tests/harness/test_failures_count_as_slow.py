"""A failed request is slower than any threshold: latency statistics count every request.

Before this rule, 3,000 requests with 3% timing out at 10 s passed `p99(latency) < 100ms`
and even `max(latency) < 9s`, because failures were left out of latency altogether.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.analysis.synthetic import synthetic_records

RATE = 100.0


def judge(records: pd.DataFrame, *slos: str) -> dict:
    spec = AnalysisSpec(slos=slos, phases=(PhaseSpec("steady", 0.0, len(records) / RATE, RATE),))
    return analyze(records, None, spec).summary


def with_timeouts_at(records: pd.DataFrame, seconds: float) -> pd.DataFrame:
    timed_out = records["error_kind"].eq("timeout").to_numpy()
    records = records.copy()
    records.loc[timed_out, "done_ns"] = records.loc[timed_out, "intended_ns"] + int(seconds * 1e9)
    return records


def test_timeouts_fail_the_latency_slos_they_used_to_pass() -> None:
    records = with_timeouts_at(synthetic_records(3000, rate=RATE, error_rate=0.06, seed=4), 10.0)
    summary = judge(records, "p99(latency) < 100ms", "max(latency) < 9s", "mean(latency) < 1s", "p50(latency) < 100ms")
    verdicts = {slo["expr"]: slo for slo in summary["slos"]}
    for expr in ("p99(latency) < 100ms", "max(latency) < 9s", "mean(latency) < 1s"):
        assert verdicts[expr]["verdict"] == "fail", verdicts[expr]
        assert math.isinf(verdicts[expr]["ci"][0])
        assert "failed requests count as slower than any value" in verdicts[expr]["reason"]
    assert verdicts["p50(latency) < 100ms"]["verdict"] == "pass"  # the median is still an answer
    failed = int(records["error_kind"].notna().sum())
    assert summary["latency_ms"]["censored"] == failed and summary["latency_ms"]["n"] == 3000
    assert math.isinf(summary["latency_ms"]["p99"]) and math.isinf(summary["latency_ms"]["max"])


def test_a_fast_failure_is_not_a_fast_success() -> None:
    """Half the requests answer 503 in 1 ms: they must not pull the median down."""
    records = synthetic_records(2000, rate=RATE, median_ms=20.0, sigma=0.1, seed=1)
    fast_503 = np.arange(len(records)) % 2 == 0
    records.loc[fast_503, "done_ns"] = records.loc[fast_503, "sent_ns"] + 1_000_000
    records.loc[fast_503, "status"] = 503
    records.loc[fast_503, "error_kind"] = "http"
    summary = judge(records, "p50(latency) < 10ms", "p50(service_time) < 10ms", "p25(latency) < 10ms")
    assert [slo["verdict"] for slo in summary["slos"]] == ["fail", "fail", "fail"]
    assert summary["latency_ms"]["p50"] > 15  # the successes' ~20 ms, or +inf: never the 503s' 1 ms


def test_schedule_lag_counts_failures_as_sent_not_as_slow() -> None:
    records = with_timeouts_at(synthetic_records(3000, rate=RATE, error_rate=0.3, lag_ms=0.02, seed=2), 10.0)
    lag = judge(records, "p99(schedule_lag) < 1ms")["slos"][0]
    assert lag["verdict"] == "pass" and lag["n"] == 3000


def test_the_latency_cdf_stops_where_the_failures_begin() -> None:
    records = with_timeouts_at(synthetic_records(4000, rate=RATE, error_rate=0.1, seed=3), 10.0)
    result = analyze(records, None, AnalysisSpec(phases=(PhaseSpec("s", 0.0, 40.0, RATE),)))
    cdf = result.series["latency_cdf"]
    failed_share = records["error_kind"].notna().mean()
    assert cdf["n"] == 4000 and np.isfinite(cdf["latency_ms"]).all()
    assert cdf["q"].max() <= 1.0 - failed_share + 1e-3


@pytest.mark.parametrize("metric", ["ttft", "e2e", "tpot"])
def test_llm_metrics_count_a_cut_stream_as_slower_than_any_value(metric: str) -> None:
    records = synthetic_records(1000, rate=RATE, seed=5)
    chunk_ms = np.arange(0, 40, 4) * 1_000_000
    records["chunk_ns"] = [list(sent + 5_000_000 + chunk_ms) for sent in records["sent_ns"]]
    records["first_byte_ns"] = records["sent_ns"] + 5_000_000
    records["done_ns"] = records["sent_ns"] + 45_000_000
    records["output_tokens"] = 10
    # 3% of the streams cut mid-reply, spread through the run (a burst is the next test's case)
    cut = np.isin(np.arange(len(records)), np.linspace(0, len(records) - 1, 30).astype(int))
    records.loc[cut, "error_kind"] = "truncated"
    verdict = judge(records, f"p99({metric}) < 1s")["slos"][0]
    assert verdict["verdict"] == "fail" and "30 failed requests" in verdict["reason"]


def test_a_burst_of_failures_cannot_pass_a_percentile_gate() -> None:
    """3% of requests fail in one burst at the start: the failures are autocorrelated, so the
    evidence is that of far fewer requests, yet a p99 gate must not pass with them."""
    records = synthetic_records(3000, rate=RATE, seed=6)
    records.loc[np.arange(len(records)) < 90, "error_kind"] = "timeout"
    verdict = judge(records, "p99(latency) < 1s")["slos"][0]
    assert verdict["verdict"] != "pass" and "90 failed requests" in verdict["reason"]
    assert verdict["n_effective"] < 3000
