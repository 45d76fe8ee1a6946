"""The per-request record log: the harness's single source of truth.

Every completed request reaches `RecordLog.append` through the run's event bus, whatever
the protocol (Locust's lesson: one place to report, so statistics never know the protocol).
Columns: docs/ARCHITECTURE.md, "Records". Times are int64 ns relative to the run's t0.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness.atomic_write import atomic_path

if TYPE_CHECKING:
    from harness.events import RequestDone

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
    prediction: float = math.nan  # the answer's first output value (a score), NaN where none
    cold_wait_ns: int = NEVER  # how long the server says it waited for a scaled-to-zero version to load
    feature_source: str | None = None  # where the server says the answer's stored features came from


@dataclass(slots=True)
class Retries:
    """The attempts after a request's first (a client retry policy): when each was sent
    (absolute perf_counter_ns) and what failure of the attempt before it caused it."""

    sent_ns: list[int] = field(default_factory=list)
    because: list[str] = field(default_factory=list)


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
        ("prediction", pa.float64()),
        ("cohort", pa.string()),
        ("label", pa.float64()),
        ("cold_wait_ns", pa.int64()),
        ("retry_sent_ns", pa.list_(pa.int64())),
        ("retried_because", pa.list_(pa.string())),
        ("feature_source", pa.string()),
    ]
)
# Columns added after the first stored runs: an older requests.parquet reads with these defaults.
LATER_COLUMNS = {"prediction": math.nan, "cohort": None, "label": math.nan, "cold_wait_ns": NEVER,
                 "retry_sent_ns": None, "retried_because": None, "feature_source": None}


TIME_COLUMNS = ("intended_ns", "sent_ns", "first_byte_ns", "done_ns")
TIME_LIST_COLUMNS = ("chunk_ns", "retry_sent_ns")


# Fixed-width columns are kept in array.array, not lists: a list holds a pointer to an int
# object of its own for every large int (40 bytes a timestamp), an array 8 bytes. Measured
# with tracemalloc: 403 bytes a record with lists, 151 with arrays (114 once written as Arrow),
# so a long run's memory grows at well under half the rate (tests/harness/test_record_memory.py).
TYPECODES = {pa.int64(): "q", pa.int32(): "i", pa.float64(): "d", pa.bool_(): "b"}
NUMPY_TYPES = {"q": np.int64, "i": np.int32, "d": np.float64, "b": np.bool_}


def _empty_columns() -> dict[str, list | array]:
    return {f.name: array(TYPECODES[f.type]) if f.type in TYPECODES else [] for f in SCHEMA}


def _column(values: list | array, type_: pa.DataType) -> pa.Array:
    if isinstance(values, array):
        return pa.array(np.frombuffer(values, NUMPY_TYPES[values.typecode]) if len(values) else [], type_)
    return pa.array(values, type_)


@dataclass
class RecordLog:
    """Append-only columnar log. `t0_ns` is the run's perf_counter_ns origin."""

    t0_ns: int
    _rows: dict[str, list | array] = field(default_factory=_empty_columns)
    _merged: list[pa.Table] = field(default_factory=list)

    def append(self, done: RequestDone) -> None:
        """One completed request, as the dispatcher published it (absolute ns times)."""
        t0 = self.t0_ns
        rows = self._rows
        outcome = done.outcome
        rows["intended_ns"].append(done.intended_ns - t0)
        rows["sent_ns"].append(done.sent_ns - t0)
        rows["first_byte_ns"].append(_relative(outcome.first_byte_ns, t0))
        rows["done_ns"].append(outcome.done_ns - t0)
        rows["status"].append(outcome.status)
        rows["error_kind"].append(outcome.error_kind)
        rows["model_version"].append(_interned(outcome.model_version))
        rows["phase"].append(done.phase)
        rows["in_warmup"].append(done.in_warmup)
        rows["payload_id"].append(done.payload_id)
        rows["drift_tag"].append(done.drift_tag)
        rows["prompt_tokens"].append(outcome.prompt_tokens)
        rows["output_tokens"].append(outcome.output_tokens)
        rows["chunk_ns"].append(None if outcome.chunk_ns is None else [c - t0 for c in outcome.chunk_ns])
        rows["prediction"].append(outcome.prediction)
        rows["cohort"].append(done.cohort)
        rows["label"].append(done.label)
        rows["cold_wait_ns"].append(outcome.cold_wait_ns)
        retries = done.retries
        rows["retry_sent_ns"].append(None if retries is None else [sent - t0 for sent in retries.sent_ns])
        rows["retried_because"].append(None if retries is None else retries.because)
        rows["feature_source"].append(_interned(outcome.feature_source))

    def extend(self, table: pa.Table, t0_offset_ns: int) -> None:
        """Records made elsewhere (another process, a proxy) relative to their own origin,
        which lies `t0_offset_ns` after this log's t0 on the same monotonic clock."""
        self._merged.append(shift_times(with_later_columns(table).select(SCHEMA.names).cast(SCHEMA), t0_offset_ns))

    def __len__(self) -> int:
        return len(self._rows["intended_ns"]) + sum(table.num_rows for table in self._merged)

    def to_table(self) -> pa.Table:
        own = pa.Table.from_arrays([_column(self._rows[f.name], f.type) for f in SCHEMA], schema=SCHEMA)
        return pa.concat_tables([own, *self._merged]) if self._merged else own

    def to_frame(self) -> pd.DataFrame:
        return records_frame(self.to_table())


def shift_times(table: pa.Table, offset_ns: int) -> pa.Table:
    """Every timestamp moved by `offset_ns`; NEVER stays NEVER."""
    if offset_ns == 0:
        return table
    for name in TIME_COLUMNS:
        column = table[name]
        shifted = pc.if_else(pc.equal(column, NEVER), column, pc.add(column, offset_ns))
        table = table.set_column(table.schema.get_field_index(name), name, shifted)
    for name in TIME_LIST_COLUMNS:
        times = table[name].combine_chunks()
        moved = pa.ListArray.from_arrays(times.offsets, pc.add(times.flatten(), offset_ns), mask=times.is_null())
        table = table.set_column(table.schema.get_field_index(name), name, moved)
    return table


def with_later_columns(table: pa.Table) -> pa.Table:
    """A table from an older writer (a stored run, a peer's records) with the columns it predates."""
    for name, default in LATER_COLUMNS.items():
        if name not in table.column_names:
            table = table.append_column(SCHEMA.field(name), pa.array([default] * table.num_rows, SCHEMA.field(name).type))
    return table


def _interned(text: str | None) -> str | None:
    """One object for each of the few values a column repeats (a version read from every answer)."""
    return None if text is None else sys.intern(text)


def _relative(ns: int, t0: int) -> int:
    return NEVER if ns == NEVER else ns - t0


def records_frame(table: pa.Table) -> pd.DataFrame:
    """A DataFrame with plain numpy dtypes for the numeric columns (fast analysis)."""
    frame = with_later_columns(table).to_pandas()
    for name in ("intended_ns", "sent_ns", "first_byte_ns", "done_ns", "payload_id"):
        frame[name] = frame[name].astype(np.int64)
    frame["cold_wait_ns"] = frame["cold_wait_ns"].fillna(NEVER).astype(np.int64)  # a peer's null: no cold start
    for name in ("status", "phase", "prompt_tokens", "output_tokens"):
        frame[name] = frame[name].astype(np.int32)
    frame["in_warmup"] = frame["in_warmup"].astype(bool)
    return frame


def write_records(table: pa.Table, path: Path, *, started_at: str, t0_ns: int) -> None:
    meta = {b"slogate.started_at": started_at.encode(), b"slogate.t0_ns": str(t0_ns).encode()}
    with atomic_path(path) as partial:
        pq.write_table(table.replace_schema_metadata(meta), partial, compression="zstd")


def read_records(path: Path) -> pd.DataFrame:
    return records_frame(pq.read_table(path))


def empty_frame() -> pd.DataFrame:
    return records_frame(SCHEMA.empty_table())
