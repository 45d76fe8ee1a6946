"""The parent's side of a sharded run (`--procs N`): start N sending processes, hand each
its shard of the schedule and the run's t0, relay a stop, and merge what they recorded.

Only the sending moves out: the target, the experiments, telemetry, the clock, the event
bus and the record log stay in the runner's process. Each shard records against the
parent's t0 (one CLOCK_MONOTONIC on one machine), so its records join the log unshifted.
A shard that dies loses its own records, and the run says so (invalid); the others' stand.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from harness.analysis.spec import ShardLoad
from harness.clients.base import Endpoint
from harness.events import LoadState, PhaseEnded, PhaseStarted
from harness.load.shard_sender import (
    READY,
    STATE_FIELDS,
    ShardJob,
    ShardReport,
    ShardSetup,
    SharedFlag,
    read_state,
    serve_shard,
    shared_counts,
)
from harness.load.shards import shard_payloads, shard_schedules
from harness.scenario.model import Scenario
from harness.session.session import RETRY_SEED_OFFSET, Session
from harness.targets.base import TargetError
from harness.tls_trust import TlsTrust

READY_TIMEOUT_S = 60.0  # a spawned interpreter imports the harness and warms its connections
REPORT_SLACK_S = 30.0  # beyond the schedule and the drain: a shard silent this long is lost
JOIN_S = 5.0


@dataclass
class ShardResults:
    """What the shards sent back, for the record log and the analysis (either engine's)."""

    procs: int
    reports: list[ShardReport] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # why a shard's records are missing

    def merge(self, session: Session, reports: list[ShardReport | None]) -> None:
        for report in reports:
            if report is not None:
                session.log.extend(report.records, 0)  # stamped against this t0 already
                self.reports.append(report)

    def lose(self, shard: int, why: str) -> None:
        self.lost.append(f"sending process {shard} of {self.procs} {why}: its requests are missing from the records")

    def shard_loads(self) -> tuple[ShardLoad, ...]:
        """What the analysis needs per shard, in the order their records joined the log."""
        return tuple(ShardLoad(r.shard, r.records.num_rows, r.state.sent, r.state.done, r.clock.offset_ns / 1e6,
                               r.clock.uncertainty_ns / 1e6) for r in self.reports)

    def valve_hit(self) -> bool:
        return any(report.valve_hit for report in self.reports)

    def transport(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for report in self.reports:
            for name, count in report.transport.items():
                total[name] = total.get(name, 0) + count
        return total


@dataclass
class ShardedLoad:
    procs: int
    processes: list[SpawnProcess]
    conns: list[Connection]
    stop: SharedFlag  # shared with every shard
    counts: Any  # shared_counts: each shard's LoadState fields
    drain_s: float  # how long the last request sent may still take
    results: ShardResults = field(init=False)

    def __post_init__(self) -> None:
        self.results = ShardResults(self.procs)

    @classmethod
    async def start(cls, scenario: Scenario, endpoint: Endpoint, tls: TlsTrust | None, warm_connections: int,
                    drain_s: float) -> ShardedLoad:
        """Spawn the shards and wait until each has its client built and connections warm."""
        procs = scenario.workload.procs
        context = multiprocessing.get_context("spawn")  # fork would copy the running event loop
        stop, counts = SharedFlag(context), shared_counts(context, procs)
        processes, conns = [], []
        for setup in shard_setups(scenario, endpoint, tls, warm_connections, drain_s):
            ours, theirs = context.Pipe()
            process = context.Process(target=serve_shard, args=(theirs, setup, stop, counts), daemon=True,
                                      name=f"slogate-shard-{setup.shard}")
            process.start()
            theirs.close()  # only the child's copy stays open: its death reads as EOF here
            processes.append(process)
            conns.append(ours)
        sharded = cls(procs, processes, conns, stop, counts, drain_s)
        try:
            await asyncio.gather(*(sharded._ready(shard) for shard in range(procs)))
        except BaseException:
            sharded.close()
            raise
        return sharded

    async def _ready(self, shard: int) -> None:
        try:
            answer = await asyncio.wait_for(asyncio.to_thread(self.conns[shard].recv), READY_TIMEOUT_S)
        except (EOFError, OSError):  # TimeoutError is an OSError: a shard that died or fell silent
            answer = None
        if answer != READY:
            raise TargetError(f"sending process {shard} of {self.procs} did not get ready "
                              f"(exit code {self.processes[shard].exitcode})")

    def state(self) -> LoadState:
        """The shards' counts together, as the progress line shows them."""
        return total_state([read_state(self.counts, shard) for shard in range(self.procs)])

    async def send(self, session: Session) -> None:
        """Hand out the shards, wait for their reports and merge them into the session's log."""
        self._hand_out(session)
        relay = asyncio.create_task(self._relay_stop(session))
        phases = asyncio.create_task(publish_phases(session))
        deadline_s = session.scenario.workload.duration_s + REPORT_SLACK_S + self.drain_s
        try:
            reports = await asyncio.gather(*(self._report(shard, deadline_s) for shard in range(self.procs)))
        finally:
            for task in (relay, phases):
                task.cancel()
            await asyncio.gather(relay, phases, return_exceptions=True)
        self.results.merge(session, reports)

    def _hand_out(self, session: Session) -> None:
        for conn, job in zip(self.conns, shard_jobs(session), strict=True):
            conn.send(job)

    async def _relay_stop(self, session: Session) -> None:
        await session.dispatcher.stop.wait()
        self.stop.set()

    async def _report(self, shard: int, deadline_s: float) -> ShardReport | None:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.conns[shard].recv), deadline_s)
        except (EOFError, OSError):  # TimeoutError is an OSError: a shard that died or fell silent
            self._lose(shard)
            return None

    def _lose(self, shard: int) -> None:
        process = self.processes[shard]
        process.join(JOIN_S)  # a shard that died has an exit code by now; a silent one is still running
        self.results.lose(shard, "fell silent" if process.exitcode is None else f"exited with code {process.exitcode}")

    def close(self) -> None:
        self.stop.set()
        for conn in self.conns:
            conn.close()  # a shard still waiting for its job (the run failed before t0) reads EOF and exits
        for process in self.processes:
            process.join(JOIN_S)
            if process.is_alive():
                process.terminate()
                process.join(JOIN_S)


def total_state(states: list[LoadState]) -> LoadState:
    """Several senders' counts as one: sums, and the worst lag."""
    total = LoadState(*(sum(getattr(s, name) for s in states) for name in STATE_FIELDS))
    total.max_lag_ns = max((s.max_lag_ns for s in states), default=0)
    return total


def shard_setups(scenario: Scenario, endpoint: Endpoint, tls: TlsTrust | None, warm_connections: int,
                 drain_s: float) -> list[ShardSetup]:
    """What each shard needs before t0: where to send, how (`tls`: what the target's certificate
    is checked with), and its part of the run's limits."""
    procs, workload = scenario.workload.procs, scenario.workload
    return [ShardSetup(shard, procs, scenario.target.protocol, replace(endpoint, tls=None), tls,
                       math.ceil(workload.max_in_flight / procs), max(math.ceil(warm_connections / procs), 1), drain_s,
                       workload.retries, f"{scenario.seed + RETRY_SEED_OFFSET}/{shard}")
            for shard in range(procs)]


def shard_jobs(session: Session) -> list[ShardJob]:
    """Each shard's t0, arrivals and payloads, once t0 is fixed."""
    t0, warmup_end, procs = session.clock.t0_ns, session.dispatcher.warmup_end_ns, session.scenario.workload.procs
    return [ShardJob(t0, warmup_end, shard_schedules(session.schedules, shard, procs),
                     shard_payloads(session.dispatcher.payloads, shard, procs)) for shard in range(procs)]


async def publish_phases(session: Session) -> None:
    """The phase events a single process publishes as it sends, at the schedule's times."""
    clock, bus = session.clock, session.bus
    for schedule in session.schedules:
        await asyncio.sleep(max(schedule.start_s - clock.elapsed_s(), 0.0))
        bus.publish(PhaseStarted(schedule.index, schedule.name, schedule.start_s))
        await asyncio.sleep(max(schedule.end_s - clock.elapsed_s(), 0.0))
        bus.publish(PhaseEnded(schedule.index, schedule.name, schedule.end_s))
