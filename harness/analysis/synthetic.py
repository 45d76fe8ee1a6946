"""Synthetic record frames with a known latency law, for tests, benchmarks and previews.

The frame goes through the real schema (`records_frame`), so it is exactly what
`read_records` returns for a run: same columns, same dtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from harness.clock import NS_PER_MS
from harness.records import NEVER, SCHEMA, records_frame


def synthetic_records(
    n: int,
    *,
    rate: float = 100.0,
    warmup_s: float = 0.0,
    median_ms: float = 20.0,
    sigma: float = 0.5,
    error_rate: float = 0.0,
    lag_ms: float = 0.02,
    phases: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """`n` requests at a constant `rate`, lognormal service times, errors split between
    HTTP 503 and timeouts (which never see a first byte), split evenly into `phases`."""
    rng = np.random.default_rng(seed)
    intended = (np.arange(n) * (1e9 / rate)).astype(np.int64)
    sent = intended + (rng.exponential(lag_ms, n) * NS_PER_MS).astype(np.int64)
    service = (rng.lognormal(np.log(median_ms), sigma, n) * NS_PER_MS).astype(np.int64)
    failed = rng.random(n) < error_rate
    timeout = failed & (rng.random(n) < 0.5)
    kinds = np.full(n, None, dtype=object)
    kinds[failed] = "http"
    kinds[timeout] = "timeout"
    columns = {
        "intended_ns": intended,
        "sent_ns": sent,
        "first_byte_ns": np.where(timeout, NEVER, sent + service // 2),
        "done_ns": sent + service,
        "status": np.where(timeout, 0, np.where(failed, 503, 200)).astype(np.int32),
        "error_kind": kinds,
        "model_version": np.full(n, "1", dtype=object),
        "phase": (np.arange(n) * phases // max(n, 1)).astype(np.int32),
        "in_warmup": intended < warmup_s * 1e9,
        "payload_id": np.arange(n, dtype=np.int64),
        "drift_tag": np.full(n, None, dtype=object),
        "prompt_tokens": np.full(n, -1, dtype=np.int32),
        "output_tokens": np.full(n, -1, dtype=np.int32),
        "chunk_ns": pa.nulls(n, pa.list_(pa.int64())),
        "prediction": np.full(n, np.nan),
        "cohort": np.full(n, None, dtype=object),
        "label": np.full(n, np.nan),
        "cold_wait_ns": np.full(n, NEVER, dtype=np.int64),
        "retry_sent_ns": pa.nulls(n, pa.list_(pa.int64())),
        "retried_because": pa.nulls(n, pa.list_(pa.string())),
        "feature_source": np.full(n, None, dtype=object),
    }
    return records_frame(pa.Table.from_pydict(columns, schema=SCHEMA))


def stalled_queue_latencies(n: int, rng: np.random.Generator, *, rate: float = 100.0, service_ms: float = 5.0,
                            stall_probability: float = 0.002, stall_ms: float = 300.0) -> np.ndarray:
    """Latencies (ms, in arrival order) of an M/G/1 FIFO queue whose server now and then
    pauses: Poisson arrivals at `rate`, exponential service of mean `service_ms`, and with
    `stall_probability` a request's service is stretched by `stall_ms` (the server frozen
    while it holds it). A pause delays every request queued behind it, so consecutive
    latencies are strongly dependent: the case independent-sample intervals get wrong.

    Waiting times follow Lindley's recursion W[i+1] = max(0, W[i] + S[i] − A[i+1]); as a
    reflected random walk that is X[i] − min(0, min X[:i+1]) with X the cumulative sum of
    S − A, so the whole run is one vectorised pass."""
    gaps_ms = rng.exponential(1e3 / rate, n)
    service = rng.exponential(service_ms, n) + np.where(rng.random(n) < stall_probability, stall_ms, 0.0)
    walk = np.concatenate(([0.0], np.cumsum(service[:-1] - gaps_ms[1:])))
    waiting = walk - np.minimum(0.0, np.minimum.accumulate(walk))
    return waiting + service
