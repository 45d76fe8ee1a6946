"""The one place every driver sends through and reports from (Locust's single reporting path).

Drivers decide *when* (intended time); `Dispatcher` sends, stamps and publishes each
completed request as one `RequestDone`. It knows nothing of SLOs or protocols: the client
does the exchange, and whoever subscribed to completions (the record log first) keeps it.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from harness.clients.base import CallbackClient, Client
from harness.events import LoadState, RequestDone
from harness.load.retries import Retrier, failure_class
from harness.records import NEVER, Outcome, Retries

DRAIN_POLL_S = 0.01


@dataclass
class PreparedPayloads:
    bodies: list[Any]  # each a request as the client's encode rendered it (bytes for HTTP clients)
    ids: list[int]
    drift_tags: list[str | None]
    cohorts: list[str | None]
    labels: list[float]

    def __len__(self) -> int:
        return len(self.bodies)


@dataclass
class Dispatcher:
    session: aiohttp.ClientSession
    client: Client
    payloads: PreparedPayloads
    warmup_end_ns: int
    max_in_flight: int
    on_done: Callable[[RequestDone], None]  # the bus's fan-out of completions
    retrier: Retrier | None = None  # a client retry policy (workload.retries)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    valve_hit: bool = False
    tasks: set[asyncio.Task] = field(default_factory=set)
    _counts: LoadState = field(default_factory=LoadState)
    callbacks: bool = field(init=False)

    def __post_init__(self) -> None:
        # a retried request waits between attempts: that needs a task, so retries take the task path
        self.callbacks = isinstance(self.client, CallbackClient) and self.retrier is None

    def state(self) -> LoadState:
        return copy.copy(self._counts)

    def can_send(self) -> bool:
        """False once stopped; trips the safety valve (and stops) when too much is in flight."""
        if self.stop.is_set():
            return False
        if self._counts.in_flight >= self.max_in_flight:
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

    async def issue(self, intended_ns: int | None, phase: int, index: int) -> None:
        """Send and wait for the answer. No intended time (a closed loop without a schedule): the
        send time is the intended time."""
        slot = index % len(self.payloads)
        sent_ns = self._sending(intended_ns)
        intended_ns = sent_ns if intended_ns is None else intended_ns
        retries = None if self.retrier is None else Retries()
        try:
            outcome = await self._attempts(self.payloads.bodies[slot], retries)
        except asyncio.CancelledError:
            # a run stopped by Ctrl-C or the drain deadline still accounts for this request
            cancelled = Outcome(0, "cancelled", NEVER, time.perf_counter_ns())
            self._answered(intended_ns, sent_ns, cancelled, phase, slot, retries)
            raise
        self._answered(intended_ns, sent_ns, outcome, phase, slot, retries)

    async def _attempts(self, body: Any, retries: Retries | None) -> Outcome:
        """The first attempt, and as many more as the retry policy grants (each noted in `retries`)."""
        outcome = await self.client.send(self.session, body)
        retrier = self.retrier
        if retrier is None or retries is None:
            return outcome
        retrier.first_attempt()
        while (wait_s := retrier.delay_s(outcome, len(retries.sent_ns))) is not None and not self.stop.is_set():
            retries.because.append(failure_class(outcome) or "")
            if wait_s:
                await asyncio.sleep(wait_s)
            retries.sent_ns.append(time.perf_counter_ns())
            self._counts.retries += 1
            outcome = await self.client.send(self.session, body)
        return outcome

    def _sending(self, intended_ns: int | None) -> int:
        counts = self._counts
        sent_ns = time.perf_counter_ns()
        counts.sent += 1
        counts.in_flight += 1
        if intended_ns is not None:
            counts.max_lag_ns = max(counts.max_lag_ns, sent_ns - intended_ns)
        return sent_ns

    def _answered(self, intended_ns: int, sent_ns: int, outcome: Outcome, phase: int, slot: int,
                  retries: Retries | None = None) -> None:
        counts = self._counts
        counts.in_flight -= 1
        counts.done += 1
        counts.errors += outcome.error_kind is not None
        payloads = self.payloads
        self.on_done(RequestDone(intended_ns, sent_ns, outcome, phase, intended_ns < self.warmup_end_ns,
                                 payloads.ids[slot], payloads.drift_tags[slot], payloads.cohorts[slot],
                                 payloads.labels[slot], retries))

    async def drain(self, timeout_s: float) -> None:
        """Let in-flight requests finish (bounded), then cancel the rest; each still leaves a record."""
        deadline = time.perf_counter() + timeout_s
        while self._counts.in_flight and time.perf_counter() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        for task in list(self.tasks):
            task.cancel()
        if self.callbacks:
            self.client.abort()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=2.0)
