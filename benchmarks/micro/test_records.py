"""The record log: one append per completed request, through the bus as a run does."""

from __future__ import annotations

from harness.events import EventBus, RequestDone
from harness.records import Outcome, RecordLog

APPENDS = 1_000_000


def test_append_a_million_records(benchmark) -> None:
    done = [RequestDone(i * 1000, i * 1000 + 20, Outcome(200, None, i * 1000 + 900, i * 1000 + 1000, "1"), 0, False,
                        i, None) for i in range(1000)]

    def append_all() -> RecordLog:
        bus, log = EventBus(), RecordLog(0)
        bus.subscribe(RequestDone, log.append)
        publish = bus.publisher(RequestDone)
        for _ in range(APPENDS // len(done)):
            for event in done:
                publish(event)
        return log

    log = benchmark.pedantic(append_all, rounds=5)
    assert len(log) == APPENDS


def test_a_million_records_to_a_table(benchmark) -> None:
    log = RecordLog(0)
    outcome = Outcome(200, None, 900, 1000, "1")
    for i in range(APPENDS):
        log.append(RequestDone(i, i + 20, outcome, 0, False, i, None))
    table = benchmark.pedantic(log.to_table, rounds=5)
    assert table.num_rows == APPENDS
