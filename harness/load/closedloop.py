"""Closed-loop driver: N virtual users, each sending its next request when the last returns.

The intended time of a request is when its user became free (plus think time), so the
schedule lag is ~0 by construction; this driver measures a system at fixed concurrency,
not at a fixed offered rate, and cannot see queueing it causes itself.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from harness.clock import NS_PER_S, wait_until
from harness.load.dispatch import Dispatcher
from harness.workload.arrivals import PhaseSchedule


async def run_closed_loop(dispatcher: Dispatcher, phase: PhaseSchedule, t0_ns: int, first_index: int) -> int:
    arrival = phase.arrival
    start_ns = t0_ns + int(phase.start_s * NS_PER_S)
    end_ns = t0_ns + int(phase.end_s * NS_PER_S)
    think_ns = int(arrival.think_time * NS_PER_S)
    counter = itertools.count(first_index)
    await wait_until(start_ns)
    users = [_user(dispatcher, phase.index, end_ns, think_ns, counter) for _ in range(arrival.concurrency)]
    launched = await asyncio.gather(*users)
    return sum(launched)


async def _user(dispatcher: Dispatcher, phase: int, end_ns: int, think_ns: int, counter) -> int:
    launched = 0
    intended = time.perf_counter_ns()
    while intended < end_ns and not dispatcher.stop.is_set():
        await dispatcher.issue(intended, phase, next(counter))
        launched += 1
        intended = time.perf_counter_ns() + think_ns
        await wait_until(intended)
    return launched
