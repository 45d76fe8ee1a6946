"""LLM metrics by vLLM's definitions, plus the schedule-relative TTFT.

Pure, vectorised functions over the records frame. The first token is `first_byte_ns`
(the openai client sets it to the first text-carrying chunk). Per-request metrics return
one value per row, NaN where undefined, and do not filter: like `latency`, the caller
judges only successful requests after warm-up. Registered with the metric registry:
ttft, ttft_sent, e2e, tpot (per request, ms) and itl (pooled, ms).

  ttft      = first_token − intended          (includes any schedule lag: no coordinated omission)
  ttft_sent = first_token − sent              (what most tools call TTFT)
  e2e       = done − intended                 (same origin as ttft, so the next line holds)
  tpot      = (e2e − ttft) / (n_out − 1)      NaN when n_out ≤ 1
  itl       = every gap between consecutive chunks, pooled over requests

Goodput under per-request SLOs on these metrics is `throughput.throughput_scalars`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.metrics import per_request_metric, pooled_metric
from harness.clock import NS_PER_MS
from harness.records import NEVER


def _ms(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    values = (later - earlier) / NS_PER_MS
    return np.where((later == NEVER) | (earlier == NEVER), np.nan, values)


def _col(records: pd.DataFrame, name: str) -> np.ndarray:
    return records[name].to_numpy(np.int64)


@per_request_metric("ttft", includes_lag=True)
def ttft_ms(records: pd.DataFrame) -> np.ndarray:
    return _ms(_col(records, "first_byte_ns"), _col(records, "intended_ns"))


@per_request_metric("ttft_sent")
def ttft_sent_ms(records: pd.DataFrame) -> np.ndarray:
    return _ms(_col(records, "first_byte_ns"), _col(records, "sent_ns"))


@per_request_metric("e2e", includes_lag=True)
def e2e_ms(records: pd.DataFrame) -> np.ndarray:
    return _ms(_col(records, "done_ns"), _col(records, "intended_ns"))


def output_token_counts(records: pd.DataFrame) -> np.ndarray:
    """Output tokens per request: `usage` where reported, else the number of chunks."""
    reported = records["output_tokens"].to_numpy(np.int64)
    return np.where(reported >= 0, reported, _chunk_counts(records))


def _chunk_counts(records: pd.DataFrame) -> np.ndarray:
    return records["chunk_ns"].map(lambda c: 0 if c is None else len(c)).to_numpy(np.int64)


@per_request_metric("tpot")
def tpot_ms(records: pd.DataFrame) -> np.ndarray:
    decode = _ms(_col(records, "done_ns"), _col(records, "first_byte_ns"))
    gaps = output_token_counts(records) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gaps >= 1, decode / np.maximum(gaps, 1), np.nan)


@pooled_metric("itl")
def itl_ms(records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every gap between consecutive chunks of the same request, pooled, with the position of
    the request each gap came from."""
    chunks = records["chunk_ns"].to_numpy(dtype=object)
    streamed = [i for i, c in enumerate(chunks) if c is not None and len(c) > 1]
    if not streamed:
        return np.empty(0), np.empty(0, np.int64)
    lists = [np.asarray(chunks[i], np.int64) for i in streamed]
    times = np.concatenate(lists)
    lengths = np.array([len(c) for c in lists])
    # Diff everything at once, then drop the gaps that straddle two requests.
    starts = np.cumsum(lengths)[:-1]
    gaps = np.delete(np.diff(times) / NS_PER_MS, starts - 1)
    owners = np.repeat(np.asarray(streamed, np.int64), lengths - 1)
    return gaps, owners


def succeeded(records: pd.DataFrame) -> np.ndarray:
    return records["error_kind"].isna().to_numpy()


def output_tokens_per_s(records: pd.DataFrame, duration_s: float) -> float:
    """Output tokens of successful requests per second of the measured window."""
    return float(output_token_counts(records)[succeeded(records)].sum() / duration_s)


def output_tokens_series(records: pd.DataFrame, bin_s: float = 1.0) -> pd.Series:
    """Output tokens/s per time bin (bin start in seconds from t0), for the tokens-over-time plot.

    Each chunk carries an equal share of its request's tokens, so merged chunks still sum
    to the request's output_tokens.
    """
    ok = records[succeeded(records)]
    lengths = _chunk_counts(ok)
    streamed = lengths > 0
    if not streamed.any():
        return pd.Series(dtype=float)
    times = np.concatenate([np.asarray(c, np.int64) for c in ok["chunk_ns"][streamed]])
    shares = np.repeat(output_token_counts(ok)[streamed] / lengths[streamed], lengths[streamed])
    bins = np.floor(times / (bin_s * 1e9)).astype(np.int64)
    per_bin = pd.Series(shares).groupby(bins).sum() / bin_s
    per_bin.index = per_bin.index * bin_s
    return per_bin
