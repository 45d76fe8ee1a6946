"""The per-request record log: the harness's single source of truth.

Every driver reports through `RecordLog.add`, whatever the protocol (Locust's lesson: one
place to report, so statistics never know the protocol). Columns follow
docs/ARCHITECTURE.md §1. Times are int64 ns relative to the run's t0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

NEVER = -1  # a timestamp that did not happen (e.g. no first byte before a reset)

ERROR_KINDS = ("timeout", "connect", "reset", "http", "invalid_response", "truncated", "cancelled")


@dataclass(slots=True)
class Outcome:
    """What a protocol client observed for one request (absolute perf_counter_ns times)."""

    status: int
    error_kind: str | None
    first_byte_ns: int
    done_ns: int
    model_version: str | None = None
    prompt_tokens: int = NEVER
    output_tokens: int = NEVER
    chunk_ns: list[int] | None = None
    detail: str | None = None  # short, payload-free reason; kept out of the parquet


SCHEMA = pa.schema(
    [
        ("intended_ns", pa.int64()),
        ("sent_ns", pa.int64()),
        ("first_byte_ns", pa.int64()),
        ("done_ns", pa.int64()),
        ("status", pa.int32()),
        ("error_kind", pa.string()),
        ("model_version", pa.string()),
        ("phase", pa.int32()),
        ("in_warmup", pa.bool_()),
        ("payload_id", pa.int64()),
        ("drift_tag", pa.string()),
        ("prompt_tokens", pa.int32()),
        ("output_tokens", pa.int32()),
        ("chunk_ns", pa.list_(pa.int64())),
    ]
)


@dataclass
class RecordLog:
    """Append-only columnar log. `t0_ns` is the run's perf_counter_ns origin."""

    t0_ns: int
    _rows: dict[str, list] = field(default_factory=lambda: {f.name: [] for f in SCHEMA})

    def add(
        self,
        *,
        intended_ns: int,
        sent_ns: int,
        outcome: Outcome,
        phase: int,
        in_warmup: bool,
        payload_id: int,
        drift_tag: str | None = None,
    ) -> None:
        t0 = self.t0_ns
        rows = self._rows
        rows["intended_ns"].append(intended_ns - t0)
        rows["sent_ns"].append(sent_ns - t0)
        rows["first_byte_ns"].append(_relative(outcome.first_byte_ns, t0))
        rows["done_ns"].append(outcome.done_ns - t0)
        rows["status"].append(outcome.status)
        rows["error_kind"].append(outcome.error_kind)
        rows["model_version"].append(outcome.model_version)
        rows["phase"].append(phase)
        rows["in_warmup"].append(in_warmup)
        rows["payload_id"].append(payload_id)
        rows["drift_tag"].append(drift_tag)
        rows["prompt_tokens"].append(outcome.prompt_tokens)
        rows["output_tokens"].append(outcome.output_tokens)
        rows["chunk_ns"].append(
            None if outcome.chunk_ns is None else [c - t0 for c in outcome.chunk_ns]
        )

    def __len__(self) -> int:
        return len(self._rows["intended_ns"])

    def to_table(self) -> pa.Table:
        return pa.Table.from_pydict(self._rows, schema=SCHEMA)

    def to_frame(self) -> pd.DataFrame:
        return records_frame(self.to_table())


def _relative(ns: int, t0: int) -> int:
    return NEVER if ns == NEVER else ns - t0


def records_frame(table: pa.Table) -> pd.DataFrame:
    """A DataFrame with plain numpy dtypes for the numeric columns (fast analysis)."""
    frame = table.to_pandas()
    for name in ("intended_ns", "sent_ns", "first_byte_ns", "done_ns", "payload_id"):
        frame[name] = frame[name].astype(np.int64)
    for name in ("status", "phase", "prompt_tokens", "output_tokens"):
        frame[name] = frame[name].astype(np.int32)
    frame["in_warmup"] = frame["in_warmup"].astype(bool)
    return frame


def write_records(table: pa.Table, path: Path, *, started_at: str, t0_ns: int) -> None:
    meta = {b"slogate.started_at": started_at.encode(), b"slogate.t0_ns": str(t0_ns).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")


def read_records(path: Path) -> pd.DataFrame:
    return records_frame(pq.read_table(path))


def empty_frame() -> pd.DataFrame:
    return records_frame(SCHEMA.empty_table())
