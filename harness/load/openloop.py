"""Open-loop driver: send on schedule no matter how many responses are outstanding.

Latency is then measured from the intended time, so a slow server cannot slow the
generator down and hide its own queueing (coordinated omission).
"""

from __future__ import annotations

from itertools import chain

from harness.clock import wait_until
from harness.load.dispatch import Dispatcher
from harness.workload.arrivals import PhaseSchedule


# Offsets are turned into Python ints a slice at a time: a whole long phase at once (9 million
# for 30 minutes at 5,000 req/s) blocked the loop ~0.5 s as its first sends fell due, and the
# burst that followed tripped the in-flight safety valve.
SLICE = 4096


async def run_open_loop(dispatcher: Dispatcher, phase: PhaseSchedule, t0_ns: int, first_index: int) -> int:
    """Launch every request of the phase at its intended time; returns how many were launched."""
    launched = 0
    offsets = phase.offsets_ns
    for offset in chain.from_iterable(offsets[start:start + SLICE].tolist() for start in range(0, len(offsets), SLICE)):
        due = t0_ns + offset
        await wait_until(due)
        if not dispatcher.can_send():
            break
        dispatcher.launch(due, phase.index, first_index + launched)
        launched += 1
    return launched
