"""The run's event bus, and the events a run publishes on it (Locust's `events`, made typed).

Whoever produces an event publishes it; whoever needs it subscribes. The record log, the
progress line, timeline markers and live SLO checks are all subscribers, so nothing polls
another part's counters. Handlers run synchronously in the publisher's call: keep them
short (a request's completion is published on the send loop's hot path).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.records import Outcome, Retries

E = TypeVar("E")
Handler = Callable[[Any], None]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~1.4 µs more, once per request
class RequestDone:
    """One request's record, as the dispatcher stamped it (absolute perf_counter_ns times). Read-only by convention."""

    intended_ns: int
    sent_ns: int
    outcome: Outcome
    phase: int
    in_warmup: bool
    payload_id: int
    drift_tag: str | None
    cohort: str | None = None  # the payload's value of the scenario's cohort feature
    label: float = math.nan  # the payload's ground truth, where it came from a labelled sample
    retries: Retries | None = None  # the attempts after the first, where a retry policy sent any


@dataclass(slots=True)
class LoadState:
    """The generator's own counts (the dispatcher keeps one and publishes copies)."""

    sent: int = 0
    done: int = 0
    errors: int = 0
    in_flight: int = 0
    max_lag_ns: int = 0
    retries: int = 0  # attempts sent again under a retry policy


@dataclass(frozen=True)
class PhaseStarted:
    index: int
    name: str
    t_s: float  # seconds from t0, as every non-request event


@dataclass(frozen=True)
class PhaseEnded(PhaseStarted):
    """The same fields as PhaseStarted; the bus tells them apart by type."""


@dataclass(frozen=True)
class FaultStarted:
    name: str  # which fault of the timeline, e.g. "faults[0]"
    label: str  # what the report's timeline shows, e.g. "latency 200ms for 5s"
    t_s: float


@dataclass(frozen=True)
class FaultEnded(FaultStarted):
    """The same fields as FaultStarted; the bus tells them apart by type."""


@dataclass(frozen=True)
class TimelineMark:
    """A moment the report's timeline shows that no fault made (a canary's traffic step)."""

    label: str
    t_s: float


@dataclass(frozen=True)
class Tick:
    """Published periodically while the load runs."""

    t_s: float
    load: LoadState


@dataclass(frozen=True)
class RunEnded:
    t_s: float
    interrupted: bool


class EventBus:
    def __init__(self) -> None:
        self._handlers: defaultdict[type, list[Handler]] = defaultdict(list)

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[kind].append(handler)

    def publish(self, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            handler(event)

    def publisher(self, kind: type[E]) -> Callable[[E], None]:
        """A fan-out for one event type, for hot paths; it sees later subscribers too."""
        handlers = self._handlers[kind]

        def publish(event: E) -> None:
            for handler in handlers:
                handler(event)

        return publish
