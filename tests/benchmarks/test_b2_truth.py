"""B2's schedule truth: the suite's own simulation of a stalled server, against known answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.b2_coordinated_omission import SERVICE_S, Stall, true_latencies


def test_truth_without_a_stall_is_the_service_time() -> None:
    latencies = true_latencies(100.0, 5.0, Stall(100.0, 101.0))
    assert latencies.size == 500 and np.allclose(latencies, SERVICE_S)


@settings(max_examples=50, deadline=None)
@given(start=st.floats(1.0, 8.0), length=st.floats(0.2, 3.0), rate=st.sampled_from([50.0, 100.0, 200.0]))
def test_truth_through_a_stall(start: float, length: float, rate: float) -> None:
    stall = Stall(start, start + length)
    latencies = true_latencies(rate, 12.0, stall)
    intended = np.arange(latencies.size) / rate
    during = (intended >= stall.start_s) & (intended < stall.end_s)
    # every request scheduled inside the stall waits for its end, then its service (and the backlog)
    assert np.all(latencies[during] >= stall.end_s - intended[during] + SERVICE_S - 1e-9)
    # 64 slots clear the backlog in ceil(backlog / 64) service times
    backlog = during.sum() + 1
    assert latencies.max() <= length + SERVICE_S * (np.ceil(backlog / 64) + 1) + 1e-9
    assert np.allclose(latencies[intended >= stall.end_s + 1.0], SERVICE_S)
