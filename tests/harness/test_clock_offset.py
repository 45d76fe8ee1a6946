"""The worker's clock offset against the runner's (harness/load/clock_offset.py): whatever the
delays each way, the truth lies within the stated uncertainty."""

from __future__ import annotations

import shutil
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from harness.load.clock_offset import ClockOffset, Exchange, clock_identity, estimate

delays = st.integers(min_value=0, max_value=50_000_000)  # up to 50 ms each way
exchange = st.tuples(st.integers(min_value=0, max_value=10**12), delays, delays)


@given(true_offset=st.integers(min_value=-10**15, max_value=10**15), trips=st.lists(exchange, min_size=1, max_size=20))
def test_the_true_offset_lies_within_the_uncertainty(true_offset: int, trips: list[tuple[int, int, int]]):
    exchanges = [Exchange(sent, sent + out + true_offset, sent + out + back) for sent, out, back in trips]
    found = estimate(exchanges)
    assert abs(found.offset_ns - true_offset) <= found.uncertainty_ns
    assert found.uncertainty_ns <= min(e.round_trip_ns for e in exchanges) // 2 + 1


@given(true_offset=st.integers(min_value=-10**15, max_value=10**15), delay=delays, sent=st.integers(0, 10**12))
def test_symmetric_delays_give_the_offset_exactly(true_offset: int, delay: int, sent: int):
    found = estimate([Exchange(sent, sent + delay + true_offset, sent + 2 * delay)])
    assert found.offset_ns == true_offset


def test_a_runner_time_maps_to_the_local_clock():
    assert ClockOffset(offset_ns=1_000, uncertainty_ns=5).to_local(5_000) == 4_000


def test_processes_of_one_machine_share_an_identity_and_another_time_namespace_does_not():
    code = "from harness.load.clock_offset import clock_identity; print(clock_identity())"
    same = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert same == clock_identity()
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is part of every Debian system"
    other = subprocess.run([unshare, "--time", "--monotonic", "1000", "--fork", sys.executable, "-c", code],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert other != clock_identity()
