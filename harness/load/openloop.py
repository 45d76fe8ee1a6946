"""Open-loop driver: send on schedule no matter how many responses are outstanding.

Latency is then measured from the intended time, so a slow server cannot slow the
generator down and hide its own queueing (coordinated omission).
"""

from __future__ import annotations

from harness.clock import wait_until
from harness.load.dispatch import Dispatcher
from harness.workload.arrivals import PhaseSchedule


async def run_open_loop(dispatcher: Dispatcher, phase: PhaseSchedule, t0_ns: int, first_index: int) -> int:
    """Launch every request of the phase at its intended time; returns how many were launched."""
    launched = 0
    for offset in phase.offsets_ns.tolist():
        due = t0_ns + offset
        await wait_until(due)
        if not dispatcher.can_send():
            break
        dispatcher.launch(due, phase.index, first_index + launched)
        launched += 1
    return launched
