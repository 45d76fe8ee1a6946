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
    }
    return records_frame(pa.Table.from_pydict(columns, schema=SCHEMA))
