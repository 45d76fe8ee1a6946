import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.analysis import llm, parse_slo
from harness.analysis.metrics import get_metric
from harness.analysis.samples import RunSamples
from harness.analysis.spec import Scalar
from harness.analysis.throughput import throughput_scalars
from harness.records import NEVER

MS = 1_000_000


def _frame(rows: list[dict]) -> pd.DataFrame:
    defaults = {"sent_ns": None, "error_kind": None, "output_tokens": NEVER, "chunk_ns": None, "in_warmup": False}
    frame = pd.DataFrame([defaults | row for row in rows])
    frame["sent_ns"] = frame["sent_ns"].fillna(frame["intended_ns"]).astype(np.int64)
    return frame


# Two streamed requests and one failure, times in ms from t0:
#  A: intended 0, sent 1, chunks at 10, 12, 15, 20 (done 20), usage says 4 tokens
#  B: intended 100, sent 100, chunks at 150, 160 (done 161), no usage → 2 tokens from the stream
#  C: intended 200, reset before any token
ROWS = _frame(
    [
        {"intended_ns": 0, "sent_ns": 1 * MS, "first_byte_ns": 10 * MS, "done_ns": 20 * MS, "output_tokens": 4,
         "chunk_ns": [10 * MS, 12 * MS, 15 * MS, 20 * MS]},
        {"intended_ns": 100 * MS, "first_byte_ns": 150 * MS, "done_ns": 161 * MS, "chunk_ns": [150 * MS, 160 * MS]},
        {"intended_ns": 200 * MS, "first_byte_ns": NEVER, "done_ns": 205 * MS, "error_kind": "reset"},
    ]
)


def test_per_request_metrics_by_hand() -> None:
    np.testing.assert_allclose(llm.ttft_ms(ROWS), [10, 50, np.nan])
    np.testing.assert_allclose(llm.ttft_sent_ms(ROWS), [9, 50, np.nan])
    np.testing.assert_allclose(llm.e2e_ms(ROWS), [20, 61, 5])
    np.testing.assert_allclose(llm.tpot_ms(ROWS), [(20 - 10) / 3, (161 - 150) / 1, np.nan])
    np.testing.assert_array_equal(llm.output_token_counts(ROWS), [4, 2, 0])


def test_itl_pools_every_gap_within_requests_only() -> None:
    gaps, owners = llm.itl_ms(ROWS)
    np.testing.assert_allclose(gaps, [2, 3, 5, 10])  # never the 130 ms between A and B
    assert owners.tolist() == [0, 0, 0, 1]  # the row each gap came from
    assert llm.itl_ms(ROWS.iloc[2:])[0].size == 0


def _goodput(frame: pd.DataFrame, slos: list[str], duration_s: float = 1.0) -> Scalar:
    """The goodput scalar that `goodput >= N/s` SLOs judge."""
    return throughput_scalars(RunSamples(frame, duration_s), [parse_slo(e) for e in slos], 0.95)["goodput"]


def test_rates_and_goodput() -> None:
    assert llm.output_tokens_per_s(ROWS, duration_s=2.0) == 3.0  # (4 + 2) / 2; the failure adds none
    assert _goodput(ROWS, ["p99(ttft) < 20ms"]).value == 1.0  # A only: B is late, C failed
    assert _goodput(ROWS, ["p50(tpot) <= 5ms", "max(e2e) < 100ms"]).value == 1.0  # B's tpot is 11 ms
    assert _goodput(ROWS, ["p99(ttft) < 100ms", "p99(tpot) < 20ms"], duration_s=0.5).value == 4.0


def test_a_one_token_reply_cannot_miss_a_tpot_slo() -> None:
    one = _frame([{"intended_ns": 0, "first_byte_ns": 5 * MS, "done_ns": 5 * MS, "output_tokens": 1, "chunk_ns": [5 * MS]}])
    assert math.isnan(llm.tpot_ms(one)[0])
    assert _goodput(one, ["p99(tpot) < 1ms", "p99(ttft) < 10ms"]).value == 1.0
    assert _goodput(one, ["p99(tpot) < 1ms", "p99(ttft) < 4ms"]).value == 0.0  # NaN meets tpot only


def test_tokens_over_time_shares_each_requests_tokens_across_its_chunks() -> None:
    series = llm.output_tokens_series(ROWS, bin_s=0.1)
    assert series.sum() * 0.1 == pytest.approx(6)  # every successful token, once
    assert series.to_dict() == pytest.approx({0.0: 40.0, 0.1: 20.0})


def test_registered_with_the_metric_registry() -> None:
    for name in ("ttft", "ttft_sent", "tpot", "e2e"):
        metric = get_metric(name)
        assert metric is not None and not metric.pooled and metric.unit == "ms"
    assert get_metric("itl").pooled


@st.composite
def streamed_requests(draw):
    rows = []
    for _ in range(draw(st.integers(1, 20))):
        intended = draw(st.integers(0, 10**12))
        sent = intended + draw(st.integers(0, 10**7))
        gaps = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=30))
        chunks = list(sent + draw(st.integers(1, 10**9)) + np.cumsum([0, *gaps[1:]]))
        reported = draw(st.sampled_from([NEVER, len(chunks)]))
        rows.append({"intended_ns": intended, "sent_ns": sent, "first_byte_ns": chunks[0], "done_ns": chunks[-1],
                     "output_tokens": reported, "chunk_ns": [int(c) for c in chunks]})
    return _frame(rows)


@given(streamed_requests())
def test_tpot_ttft_and_e2e_are_consistent(frame: pd.DataFrame) -> None:
    ttft, tpot, e2e = llm.ttft_ms(frame), llm.tpot_ms(frame), llm.e2e_ms(frame)
    n = llm.output_token_counts(frame)
    many = n > 1
    np.testing.assert_allclose(tpot[many] * (n[many] - 1) + ttft[many], e2e[many], rtol=1e-9, atol=1e-6)
    assert np.isnan(tpot[~many]).all()
    # Pooled ITL: one gap per consecutive chunk pair, and the gaps of a request sum to its decode time.
    gaps, _ = llm.itl_ms(frame)
    assert gaps.size == int((n - 1).sum())
    assert gaps.sum() == pytest.approx(((e2e - ttft)).sum(), rel=1e-9, abs=1e-6)


@given(streamed_requests(), st.integers(1, 2000), st.integers(1, 2000))
def test_goodput_counts_requests_meeting_ttft_and_tpot_one_token_replies_included(
    frame: pd.DataFrame, ttft_limit: int, tpot_limit: int
) -> None:
    """Oracle, one request at a time: a reply of n <= 1 tokens has no TPOT and so meets any TPOT SLO."""
    expected = 0
    for row in frame.itertuples():
        n = len(row.chunk_ns)
        tpot_ok = n <= 1 or (row.done_ns - row.first_byte_ns) / MS / (n - 1) < tpot_limit
        expected += (row.first_byte_ns - row.intended_ns) / MS < ttft_limit and tpot_ok
    slos = [f"p99(ttft) < {ttft_limit}ms", f"p90(tpot) < {tpot_limit}ms"]
    assert _goodput(frame, slos).value == expected
