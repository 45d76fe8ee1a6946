"""The run's event bus and the record log that subscribes to it."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
from rich.console import Console

from harness.events import EventBus, FaultStarted, LoadState, RequestDone, Tick
from harness.records import NEVER, SCHEMA, Outcome, RecordLog, records_frame
from harness.report.progress import PLAIN_PERIOD_S, ProgressLine


def done(intended: int, outcome: Outcome, payload_id: int = 0) -> RequestDone:
    return RequestDone(intended, intended + 5, outcome, phase=0, in_warmup=False, payload_id=payload_id, drift_tag=None)


def test_publish_reaches_the_subscribers_of_that_event_type_only() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(FaultStarted, seen.append)
    bus.publish(FaultStarted("faults[0]", "latency fault 5s", 1.0))
    bus.publish(Tick(1.5, LoadState()))
    assert seen == [FaultStarted("faults[0]", "latency fault 5s", 1.0)]


def test_a_publisher_sees_subscribers_added_after_it_was_made() -> None:
    bus = EventBus()
    publish = bus.publisher(RequestDone)
    first, later = [], []
    bus.subscribe(RequestDone, first.append)
    event = done(10, Outcome(200, None, 12, 20))
    publish(event)
    bus.subscribe(RequestDone, later.append)
    publish(event)
    assert first == [event, event] and later == [event]


def test_the_record_log_keeps_times_relative_to_its_t0() -> None:
    log = RecordLog(t0_ns=1_000)
    log.append(done(1_100, Outcome(200, None, 1_150, 1_300, "2", 7, 3, [1_150, 1_200, 1_300]), payload_id=4))
    log.append(done(1_200, Outcome(0, "timeout", NEVER, 2_000)))
    frame = log.to_frame()
    assert frame.intended_ns.tolist() == [100, 200] and frame.sent_ns.tolist() == [105, 205]
    assert frame.first_byte_ns.tolist() == [150, NEVER] and frame.done_ns.tolist() == [300, 1_000]
    assert frame.chunk_ns[0].tolist() == [150, 200, 300] and frame.chunk_ns[1] is None
    assert frame.model_version[0] == "2" and frame.payload_id.tolist() == [4, 0]


def test_records_from_another_origin_are_merged_onto_this_clock() -> None:
    """A second process stamps against its own t0, 1 s after ours, on the same monotonic clock."""
    other = RecordLog(t0_ns=0)
    other.append(done(100, Outcome(200, None, 150, 300, chunk_ns=[150, 300])))
    other.append(done(200, Outcome(0, "reset", NEVER, 250)))
    log = RecordLog(t0_ns=0)
    log.append(done(50, Outcome(200, None, 60, 70)))
    log.extend(other.to_table(), t0_offset_ns=1_000_000_000)
    frame = log.to_frame()
    assert len(log) == 3
    assert frame.intended_ns.tolist() == [50, 1_000_000_100, 1_000_000_200]
    assert frame.first_byte_ns.tolist() == [60, 1_000_000_150, NEVER]  # NEVER stays NEVER
    assert frame.chunk_ns[1].tolist() == [1_000_000_150, 1_000_000_300] and frame.chunk_ns[2] is None
    assert frame.error_kind.isna().tolist() == [True, True, False] and frame.error_kind[2] == "reset"


def test_extend_takes_any_table_with_the_record_columns() -> None:
    columns = {field.name: pa.nulls(1, field.type) for field in SCHEMA}
    columns.update(intended_ns=pa.array([5], pa.int64()), sent_ns=pa.array([6], pa.int64()),
                   first_byte_ns=pa.array([NEVER], pa.int64()), done_ns=pa.array([9], pa.int64()),
                   status=pa.array([200], pa.int32()), phase=pa.array([0], pa.int32()),
                   in_warmup=pa.array([False]), payload_id=pa.array([1], pa.int64()),
                   prompt_tokens=pa.array([-1], pa.int32()), output_tokens=pa.array([-1], pa.int32()),
                   extra=pa.array(["ignored"]))
    log = RecordLog(t0_ns=0)
    log.extend(pa.table(columns), t0_offset_ns=10)
    frame = records_frame(log.to_table())
    assert frame.done_ns.tolist() == [19] and frame.first_byte_ns.tolist() == [NEVER]
    assert np.dtype(frame.done_ns.dtype) == np.int64


def test_progress_prints_sparse_plain_lines_from_ticks_off_a_terminal(capsys) -> None:
    progress = ProgressLine(Console(file=io.StringIO(), force_terminal=False), total=100, duration_s=10.0)
    with progress:
        progress.on_tick(Tick(1.0, LoadState(sent=10, done=9)))  # too soon for a plain line
        progress.on_tick(Tick(PLAIN_PERIOD_S + 0.1, LoadState(sent=50, done=48, errors=1, in_flight=2)))
        progress.on_tick(Tick(PLAIN_PERIOD_S + 0.6, LoadState(sent=55, done=50)))  # too soon again
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "sent 50/100  done 48  errors 1  in-flight 2" in lines[0]
