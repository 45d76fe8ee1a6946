"""The run's one clock: every time in a run is `time.perf_counter_ns`, with one wall-clock anchor.

perf_counter_ns is CLOCK_MONOTONIC on Linux, shared by every process on the machine, so a
sampler, a fault proxy or a second sending process can stamp against the same t0.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
SPIN_NS = 1_500_000  # sleep until ~1.5 ms before a send, then yield-spin: event-loop timers are ms-coarse
NAP_S = 0.001  # the longest single sleep; see wait_until


async def wait_until(due_ns: int) -> None:
    """Return at `due_ns` (perf_counter_ns), give or take tens of µs, without a long busy spin.

    Sleeping in naps of at most 1 ms instead of one long sleep keeps the process from
    idling deeply: on these VMs a vCPU woken from a long idle answered ms late (schedule
    lag p99 3.7 ms at 120 req/s); with 1 ms naps it was 0.1 ms, for ~1% of a core.
    """
    while (remaining := due_ns - time.perf_counter_ns()) > SPIN_NS:
        await asyncio.sleep(min((remaining - SPIN_NS) / 1e9, NAP_S))
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
