"""The run's one clock: every time in a run is `time.perf_counter_ns`, with one wall-clock anchor.

perf_counter_ns is CLOCK_MONOTONIC on Linux, shared by every process on the machine, so a
sampler, a fault proxy or a second sending process can stamp against the same t0.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.precise_timer import precise_waker

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
APPROACH_NS = 1_500_000  # the last stretch before a send: uvloop's timers are ms-coarse, so it needs a finer wake
NAP_S = 0.001  # the longest single sleep before that; see wait_until
MIN_ARM_NS = 20_000  # nearer than this, arming a kernel timer costs more than yielding until the due time


async def wait_until(due_ns: int) -> None:
    """Return at `due_ns` (perf_counter_ns), give or take tens of µs, without a long busy spin.

    Far from the due time it sleeps in naps of at most 1 ms rather than one long sleep: on
    these VMs a vCPU woken from a long idle answered ms late (schedule lag p99 3.7 ms at
    120 req/s; 0.1 ms with 1 ms naps, for ~1% of a core). The last 1.5 ms, which event-loop
    timers cannot resolve, it waits on a kernel high-resolution timer (Linux timerfd) armed
    at the due time less the wake-up lateness it has measured, then yields only that
    remainder. Without a timerfd it yield-spins the whole approach, a core busy at any rate
    above ~700 req/s.
    """
    while (remaining := due_ns - time.perf_counter_ns()) > APPROACH_NS:
        await asyncio.sleep(min((remaining - APPROACH_NS) / 1e9, NAP_S))
    waker = precise_waker()
    if waker is not None and due_ns - time.perf_counter_ns() > waker.lead_ns + MIN_ARM_NS:
        await waker.wait(due_ns - waker.lead_ns)
    while time.perf_counter_ns() < due_ns:
        await asyncio.sleep(0)


@dataclass(frozen=True)
class RunClock:
    """t0 (the perf_counter_ns origin of every relative time in a run) and its wall-clock time."""

    t0_ns: int
    wall_t0_s: float  # time.time() at t0

    @classmethod
    def starting_in(cls, lead_ns: int) -> RunClock:
        """A clock whose t0 lies `lead_ns` from now: the head start before the first send."""
        now_ns, wall_s = time.perf_counter_ns(), time.time()
        return cls(now_ns + lead_ns, wall_s + lead_ns / NS_PER_S)

    def at(self, offset_s: float) -> int:
        """The absolute perf_counter_ns of `offset_s` seconds after t0."""
        return self.t0_ns + int(offset_s * NS_PER_S)

    def elapsed_s(self, absolute_ns: int | None = None) -> float:
        """Seconds from t0 to `absolute_ns` (default: now); negative before t0."""
        at_ns = time.perf_counter_ns() if absolute_ns is None else absolute_ns
        return (at_ns - self.t0_ns) / NS_PER_S

    @property
    def started_at(self) -> str:
        """t0 as an ISO-8601 UTC timestamp (summary.json's `started_at`)."""
        return datetime.fromtimestamp(self.wall_t0_s, UTC).isoformat(timespec="milliseconds")
