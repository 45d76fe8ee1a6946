"""A run session: one clock, one record log, one target, one event bus.

The session owns what lives as long as one run: the HTTP session, the protocol client, the
schedule, the dispatcher and the telemetry sampler. Experiments receive it in their hooks;
they act on `target`, read `clock`, and publish or subscribe on `bus`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import numpy as np

from harness.clients.base import Client
from harness.clock import NS_PER_S, RunClock
from harness.contracts import ModelInfo
from harness.events import EventBus, FaultEnded, FaultStarted, LoadState, RequestDone, TimelineMark
from harness.load.dispatch import Dispatcher, PreparedPayloads
from harness.load.retries import Retrier
from harness.records import RecordLog
from harness.scenario.model import Scenario
from harness.targets.base import Target, TargetError
from harness.telemetry.process import TelemetryProcess
from harness.workload.arrivals import PhaseSchedule
from harness.workload.cohorts import cohort_labels
from harness.workload.payloads import make_payload_generator
from harness.workload.security import auth_cohort, stamp_payloads

if TYPE_CHECKING:
    from harness.session.sharded import ShardResults

START_LEAD_NS = 300_000_000  # head start so the first sends are not late while the loop warms up
SHARDED_LEAD_NS = 1_000_000_000  # and time to hand each sending process its arrivals and payloads
CLOSED_LOOP_POOL = 4096  # distinct payloads cycled by closed-loop users


class Senders(Protocol):
    """Processes that send the schedule's shards in this process's stead (--procs, --engine locust)."""

    results: ShardResults  # what they sent back, once `send` returns

    def state(self) -> LoadState: ...

    async def send(self, session: Session) -> None: ...

    def close(self) -> None: ...


@dataclass
class Session:
    scenario: Scenario
    target: Target
    run_dir: Path
    http: aiohttp.ClientSession
    client: Client
    model_info: ModelInfo
    schedules: list[PhaseSchedule]
    telemetry: TelemetryProcess
    clock: RunClock
    bus: EventBus
    log: RecordLog
    dispatcher: Dispatcher
    timeline: list[tuple[float, str]] = field(default_factory=list)  # (t_s, label) marks for the report
    interrupted: bool = False
    services: dict[str, Any] = field(default_factory=dict)  # what experiments set up for their actions (a fault proxy)
    senders: Senders | None = None  # the sending processes of a sharded run; None: the dispatcher sends

    def load_state(self) -> LoadState:
        return self.dispatcher.state() if self.senders is None else self.senders.state()

    @property
    def planned_requests(self) -> int:
        return sum(len(schedule.offsets_ns) for schedule in self.schedules)

    def mark(self, event: FaultStarted | FaultEnded | TimelineMark) -> None:
        self.timeline.append((event.t_s, event.label))


RETRY_SEED_OFFSET = 2  # the schedule draws from the seed, the payloads from seed + 1


def open_session(scenario: Scenario, target: Target, run_dir: Path, http: aiohttp.ClientSession, client: Client,
                 info: ModelInfo, schedules: list[PhaseSchedule], telemetry: TelemetryProcess,
                 cohort_feature: str | None = None, senders: Senders | None = None) -> Session:
    """Prepare every payload, then fix t0 a short lead ahead and wire the bus."""
    payloads = prepare_payloads(scenario, client, info, schedules, cohort_feature)
    clock = RunClock.starting_in(START_LEAD_NS if senders is None else SHARDED_LEAD_NS)
    bus = EventBus()
    log = RecordLog(clock.t0_ns)
    bus.subscribe(RequestDone, log.append)
    retries = scenario.workload.retries
    dispatcher = Dispatcher(http, client, payloads, clock.at(scenario.workload.warmup),
                            scenario.workload.max_in_flight, bus.publisher(RequestDone),
                            None if retries is None else Retrier(retries, scenario.seed + RETRY_SEED_OFFSET))
    session = Session(scenario, target, run_dir, http, client, info, schedules, telemetry, clock, bus, log, dispatcher,
                      senders=senders)
    bus.subscribe(FaultStarted, session.mark)
    bus.subscribe(FaultEnded, session.mark)
    bus.subscribe(TimelineMark, session.mark)
    return session


def prepare_payloads(scenario: Scenario, client: Client, info: ModelInfo, schedules: list[PhaseSchedule],
                     cohort_feature: str | None = None) -> PreparedPayloads:
    open_total = sum(len(s.offsets_ns) for s in schedules)
    closed = any(not s.arrival.open_loop for s in schedules)
    count = max(open_total + (CLOSED_LOOP_POOL if closed else 0), 1)
    rng = np.random.default_rng(scenario.seed + 1)
    times_s = np.full(count, np.nan)  # a closed loop's pool has no intended times: it is never drifted
    if open_total:
        times_s[:open_total] = np.concatenate([s.offsets_ns for s in schedules]) / NS_PER_S
    try:
        payloads = make_payload_generator(scenario.payload).generate(count, info, rng, times_s)
        cohorts = cohort_labels(payloads, info, cohort_feature) if cohort_feature else [None] * len(payloads)
    except ValueError as exc:  # the scenario names features the target's model does not take
        raise TargetError(f"workload.payload: {exc}") from None
    if scenario.target.auth is not None:
        # t0 is fixed right after the payloads are made: their stamps are off by that time (~1 s)
        payloads = stamp_payloads(payloads, times_s, time.time() + START_LEAD_NS / NS_PER_S,
                                  scenario.workload.security, rng)
        cohorts = [cohort or auth_cohort(p) for cohort, p in zip(cohorts, payloads)]
    return PreparedPayloads(
        bodies=[client.encode(p) for p in payloads],
        ids=[p.payload_id for p in payloads],
        drift_tags=[p.drift_tag for p in payloads],
        cohorts=cohorts,
        labels=[p.label for p in payloads],
    )
