"""The one place every driver sends through and reports to (Locust's single reporting path).

Drivers decide *when* (intended time); `Dispatcher.issue` sends, times and records. It
knows nothing of SLOs or protocols: the client does the exchange, the log keeps the row.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp

from harness.clients.base import CallbackClient, Client
from harness.records import NEVER, Outcome, RecordLog

SPIN_NS = 1_500_000  # §8: sleep until ~1.5 ms before a send, then yield-spin; loop timers are ms-coarse
NAP_S = 0.001  # the longest single sleep; see wait_until
DRAIN_POLL_S = 0.01


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


@dataclass
class PreparedPayloads:
    bodies: list[bytes]
    ids: list[int]
    drift_tags: list[str | None]

    def __len__(self) -> int:
        return len(self.bodies)


@dataclass
class Counters:
    sent: int = 0
    done: int = 0
    errors: int = 0
    in_flight: int = 0
    max_lag_ns: int = 0


@dataclass
class Dispatcher:
    session: aiohttp.ClientSession
    client: Client
    log: RecordLog
    payloads: PreparedPayloads
    warmup_end_ns: int
    max_in_flight: int
    counters: Counters = field(default_factory=Counters)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    valve_hit: bool = False
    tasks: set[asyncio.Task] = field(default_factory=set)
    callbacks: bool = field(init=False)

    def __post_init__(self) -> None:
        self.callbacks = isinstance(self.client, CallbackClient)

    def can_send(self) -> bool:
        """False once stopped; trips the safety valve (and stops) when too much is in flight."""
        if self.stop.is_set():
            return False
        if self.counters.in_flight >= self.max_in_flight:
            self.valve_hit = True
            self.stop.set()
            return False
        return True

    def launch(self, intended_ns: int, phase: int, index: int) -> None:
        """Send without waiting: through the client's callback path when it has one, else a task."""
        if not self.callbacks:
            task = asyncio.get_running_loop().create_task(self.issue(intended_ns, phase, index))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        slot = index % len(self.payloads)
        sent_ns = self._sending(intended_ns)
        self.client.start(self.payloads.bodies[slot],
                          lambda outcome: self._answered(intended_ns, sent_ns, outcome, phase, slot))

    async def issue(self, intended_ns: int, phase: int, index: int) -> None:
        slot = index % len(self.payloads)
        sent_ns = self._sending(intended_ns)
        try:
            outcome = await self.client.send(self.session, self.payloads.bodies[slot])
        except asyncio.CancelledError:
            # a run stopped by Ctrl-C or the drain deadline still accounts for this request
            self._answered(intended_ns, sent_ns, Outcome(0, "cancelled", NEVER, time.perf_counter_ns()), phase, slot)
            raise
        self._answered(intended_ns, sent_ns, outcome, phase, slot)

    def _sending(self, intended_ns: int) -> int:
        counters = self.counters
        sent_ns = time.perf_counter_ns()
        counters.sent += 1
        counters.in_flight += 1
        counters.max_lag_ns = max(counters.max_lag_ns, sent_ns - intended_ns)
        return sent_ns

    def _answered(self, intended_ns: int, sent_ns: int, outcome: Outcome, phase: int, slot: int) -> None:
        counters = self.counters
        counters.in_flight -= 1
        counters.done += 1
        counters.errors += outcome.error_kind is not None
        self.log.add(
            intended_ns=intended_ns,
            sent_ns=sent_ns,
            outcome=outcome,
            phase=phase,
            in_warmup=intended_ns < self.warmup_end_ns,
            payload_id=self.payloads.ids[slot],
            drift_tag=self.payloads.drift_tags[slot],
        )

    async def drain(self, timeout_s: float) -> None:
        """Let in-flight requests finish (bounded), then cancel the rest; each still leaves a record."""
        deadline = time.perf_counter() + timeout_s
        while self.counters.in_flight and time.perf_counter() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        for task in list(self.tasks):
            task.cancel()
        if self.callbacks:
            self.client.abort()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=2.0)
