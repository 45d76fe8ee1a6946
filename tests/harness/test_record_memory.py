"""A run's record log grows linearly with its requests, at a stated cost per record.

tracemalloc counts the Python heap exactly, so this is a measurement of the data structure,
not a timing: the same appends always allocate the same bytes. benchmarks/harness_memory.py
watches a whole run's resident set for 30 minutes."""

from __future__ import annotations

import math
import time
import tracemalloc

from harness.events import RequestDone
from harness.records import Outcome, RecordLog

BYTES_PER_RECORD = 200  # the stated bound: 200 MB a million records (151 measured; 338 with lists)


def appended_bytes(count: int) -> int:
    t0 = time.perf_counter_ns()
    log = RecordLog(t0_ns=t0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            at = t0 + 10**9 + i * 1000
            # a version decoded from every answer is a new string object each time
            outcome = Outcome(200, None, at + 500, at + 900, f"v{i % 2 + 1}", prediction=(i % 97) / 97)
            log.append(RequestDone(at, at + 10, outcome, 0, False, i, None, None, math.nan, None))
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_records_cost_a_bounded_number_of_bytes_each_and_grow_linearly() -> None:
    small, large = appended_bytes(25_000), appended_bytes(100_000)
    assert large / 100_000 <= BYTES_PER_RECORD, f"{large / 100_000:.0f} bytes a record"
    assert 3.6 <= large / small <= 4.4  # linear: four times the records, four times the bytes
