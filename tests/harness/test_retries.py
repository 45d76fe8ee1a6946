"""The client retry policy: which failures it retries, how long it waits, what its budget
allows, how each attempt lands on its request's record, and what the retries section reads
from them. The last test runs the real server with every request failing, so the truth of
every count is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chaos_runs import LAG, slogate_run

from harness.analysis.measurements import attempts
from harness.analysis.retries import retries_section
from harness.analysis.samples import RunSamples
from harness.analysis.sections import SectionInput
from harness.analysis.spec import AnalysisSpec
from harness.analysis.synthetic import synthetic_records
from harness.clock import NS_PER_MS
from harness.events import RequestDone
from harness.load.retries import Retrier, RetryPolicy, failure_class
from harness.records import NEVER, Outcome, RecordLog, Retries, records_frame

TIMER_SLACK_MS = 1.5
UNAVAILABLE = Outcome(503, "http", 1, 2)
TIMED_OUT = Outcome(0, "timeout", NEVER, 2)


@pytest.mark.parametrize(("outcome", "expected"), [
    (Outcome(503, "http", 1, 2), "5xx"), (Outcome(500, "http", 1, 2), "5xx"), (Outcome(429, "http", 1, 2), "429"),
    (Outcome(0, "timeout", NEVER, 2), "timeout"), (Outcome(0, "connect", NEVER, 2), "connect"),
    (Outcome(0, "reset", NEVER, 2), "reset"), (Outcome(400, "http", 1, 2), None), (Outcome(200, None, 1, 2), None),
    (Outcome(200, "invalid_response", 1, 2), None), (Outcome(0, "cancelled", NEVER, 2), None),
])
def test_failure_classes(outcome: Outcome, expected: str | None) -> None:
    assert failure_class(outcome) == expected


def test_only_the_listed_failures_are_retried_and_never_beyond_max() -> None:
    retrier = Retrier(RetryPolicy(max=2, on=["timeout"]), seed=1)
    assert retrier.delay_s(UNAVAILABLE, 0) is None
    assert retrier.delay_s(Outcome(400, "http", 1, 2), 0) is None
    assert retrier.delay_s(TIMED_OUT, 0) == 0.0
    assert retrier.delay_s(TIMED_OUT, 1) == 0.0
    assert retrier.delay_s(TIMED_OUT, 2) is None


@settings(max_examples=60, deadline=None)
@given(base_ms=st.integers(1, 500), cap_ms=st.integers(1, 5000), retry=st.integers(0, 9), jitter=st.booleans(),
       seed=st.integers(0, 1000))
def test_exponential_waits_stay_below_their_capped_ceiling(base_ms: int, cap_ms: int, retry: int, jitter: bool,
                                                            seed: int) -> None:
    policy = RetryPolicy(max=10, backoff="exponential", base=base_ms / 1e3, cap=cap_ms / 1e3,
                         jitter="full" if jitter else "none")
    ceiling = min(cap_ms / 1e3, base_ms / 1e3 * 2.0**retry)
    wait = Retrier(policy, seed).delay_s(UNAVAILABLE, retry)
    assert wait is not None and 0.0 <= wait <= ceiling
    if not jitter:
        assert wait == ceiling


def test_full_jitter_spreads_the_waits_over_their_whole_range() -> None:
    policy = RetryPolicy(max=3, backoff="exponential", base=0.1, cap=1.0, jitter="full")
    retrier = Retrier(policy, seed=3)
    waits = np.array([retrier.delay_s(UNAVAILABLE, 1) for _ in range(2000)])
    assert waits.min() < 0.01 and waits.max() > 0.19 and abs(waits.mean() - 0.1) < 0.01


@settings(max_examples=60, deadline=None)
@given(budget=st.floats(0.01, 0.5), burst=st.integers(1, 20),
       events=st.lists(st.sampled_from(["first", "retry"]), max_size=400))
def test_a_budget_grants_no_more_than_its_share_of_first_attempts_plus_its_burst(
        budget: float, burst: int, events: list[str]) -> None:
    retrier = Retrier(RetryPolicy(max=10, budget=budget, burst=burst), seed=0)
    firsts = granted = 0
    for event in events:
        if event == "first":
            retrier.first_attempt()
            firsts += 1
        else:
            granted += retrier.delay_s(UNAVAILABLE, 0) is not None
    assert granted <= burst + budget * firsts + 1e-9
    assert granted + retrier.refused_by_budget == events.count("retry")


def test_a_budget_refills_as_first_attempts_succeed() -> None:
    retrier = Retrier(RetryPolicy(max=10, budget=0.5, burst=1), seed=0)
    assert retrier.delay_s(UNAVAILABLE, 0) is not None  # the full bucket's one token
    assert retrier.delay_s(UNAVAILABLE, 0) is None
    retrier.first_attempt()
    retrier.first_attempt()
    assert retrier.delay_s(UNAVAILABLE, 0) is not None


def test_the_longest_request_counts_every_attempt_and_wait() -> None:
    policy = RetryPolicy(max=3, backoff="exponential", base=0.1, cap=0.3)
    assert policy.longest_request_s(1.0) == pytest.approx(4.0 + 0.1 + 0.2 + 0.3)
    assert RetryPolicy(max=2).longest_request_s(0.5) == pytest.approx(1.5)


def test_each_attempt_lands_on_its_request_record_and_moves_with_its_origin() -> None:
    log = RecordLog(t0_ns=1_000)
    retries = Retries(sent_ns=[5_000, 9_000], because=["5xx", "timeout"])
    log.append(RequestDone(2_000, 2_100, Outcome(200, None, 9_500, 9_900), 0, False, 1, None, retries=retries))
    log.append(RequestDone(3_000, 3_100, Outcome(200, None, 3_500, 3_900), 0, False, 2, None))
    table = log.to_table()
    assert table["retry_sent_ns"].to_pylist() == [[4_000, 8_000], None]
    assert table["retried_because"].to_pylist() == [["5xx", "timeout"], None]
    merged = RecordLog(t0_ns=0)
    merged.extend(table, t0_offset_ns=1_000)
    assert merged.to_table()["retry_sent_ns"].to_pylist() == [[5_000, 9_000], None]
    assert attempts(records_frame(table)).tolist() == [3.0, 1.0]


def _with_retries(records: pd.DataFrame, per_request: np.ndarray) -> pd.DataFrame:
    records = records.copy()
    records["retry_sent_ns"] = [list(sent + NS_PER_MS * (1 + np.arange(k))) for sent, k in
                                zip(records["sent_ns"], per_request, strict=True)]
    records["retried_because"] = [["5xx"] * k for k in per_request]
    return records


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), p_retry=st.floats(0.0, 0.6))
def test_the_retries_section_counts_every_attempt_and_bounds_the_amplification(seed: int, p_retry: float) -> None:
    rng = np.random.default_rng(seed)
    per_request = rng.binomial(3, p_retry, 600)
    records = _with_retries(synthetic_records(600, seed=seed), per_request)
    spec = AnalysisSpec(confidence=0.95)
    inp = SectionInput(records, None, spec, RunSamples(records, 6.0), {}, 6.0)
    out = retries_section(inp)
    section, scalar = out.section, out.scalars["retry_amplification"]
    assert section["attempts"] == 600 + per_request.sum()
    assert section["because"] == ({"5xx": int(per_request.sum())} if per_request.sum() else {})
    assert section["retried"] == int((per_request > 0).sum())
    assert scalar.value == pytest.approx(1 + per_request.mean())
    if per_request.std() > 0:
        assert scalar.ci[0] < scalar.value < scalar.ci[1]
    assert out.series["retries_per_s"].sum() == per_request.sum()
    assert not math.isnan(section["peak_retries_per_s"])


@pytest.mark.integration
def test_every_failing_request_is_retried_exactly_max_times_after_its_backoff(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="always-failing",
                         workload={"phases": [{"duration": "3s", "arrival": {"process": "constant", "rate": 20}}],
                                   "retries": {"max": 2, "backoff": "exponential", "base": "20ms", "cap": "1s"}},
                         faults=[{"action": "error", "at": "0s", "status": 503, "name": "down"}],
                         slos=["retry_amplification < 2", "mean(attempts) < 2 in during(down)"], analysis=LAG)
    code, summary = slogate_run(path, tmp_path / "out")
    records = pq.read_table(next((tmp_path / "out").glob("*/*/requests.parquet"))).to_pandas()
    failing = records[records["status"] == 503]
    assert len(failing) >= 50
    assert all(list(because) == ["5xx", "5xx"] for because in failing["retried_because"])
    sends = np.array([[sent, *retried] for sent, retried in zip(failing["sent_ns"], failing["retry_sent_ns"],
                                                                  strict=True)])
    # the waits plus each 503's round trip, less the event loop's timer slack (its timers are ms-coarse)
    gaps_ms = np.diff(sends, axis=1) / NS_PER_MS + TIMER_SLACK_MS
    assert (gaps_ms[:, 0] >= 20).all() and (gaps_ms[:, 1] >= 40).all()
    assert np.median(gaps_ms[:, 1]) < 60  # waited 40 ms, not the 1 s cap
    assert summary["retries"]["retry_amplification"]["estimate"] == pytest.approx(3.0, abs=0.1)
    assert code == 1, summary["slos"]  # 3 attempts per request against a gate of 2
