"""How far a locust worker's CLOCK_MONOTONIC is from the runner's, so that a worker on another
machine sends its shard at the runner's intended times.

Every shard is handed the runner's t0, a CLOCK_MONOTONIC reading. On the runner's machine that
is every process's clock, and the offset is exactly zero. Elsewhere (another machine, or another
time namespace: a container with its own monotonic offset) the worker measures it against the
locust master, which runs beside the runner and reads the same clock: it sends its own time,
the master answers with its time, and the worker notes when the answer came. The master's
reading was taken somewhere inside that round trip, so the offset is known to within half of
it, whatever the delays each way (NTP's bound). The exchange with the shortest round trip is
kept, since it bounds the offset most tightly.

Written here rather than taken from a library: NTP clients set the system clock and read
CLOCK_REALTIME; what is needed is the offset between two processes' CLOCK_MONOTONIC over an
existing message channel, a dozen lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXCHANGES = 16  # round trips per worker; the best of them bounds the offset


@dataclass(frozen=True)
class ClockOffset:
    offset_ns: int = 0  # the runner's clock minus this process's
    uncertainty_ns: int = 0  # the offset is within ± this; 0: the runner's own clock

    def to_local(self, runner_ns: int) -> int:
        return runner_ns - self.offset_ns


@dataclass(frozen=True)
class Exchange:
    sent_ns: int  # this process's clock, as it asked
    runner_ns: int  # the runner's clock, as the master answered
    received_ns: int  # this process's clock, as the answer came

    @property
    def round_trip_ns(self) -> int:
        return self.received_ns - self.sent_ns


def estimate(exchanges: list[Exchange]) -> ClockOffset:
    """The offset from the exchange with the shortest round trip, to within half of it."""
    best = min(exchanges, key=lambda e: e.round_trip_ns)
    midpoint = best.sent_ns + best.round_trip_ns // 2
    return ClockOffset(best.runner_ns - midpoint, (best.round_trip_ns + 1) // 2)


def clock_identity() -> str:
    """Equal in two processes exactly when they read one CLOCK_MONOTONIC: the same boot of the
    same machine, in the same time namespace."""
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    try:
        namespace = Path("/proc/self/ns/time").readlink().name
    except OSError:  # a kernel before time namespaces (5.6) has one monotonic clock per boot
        namespace = "time:[initial]"
    return f"{boot} {namespace}"
