"""One sending process of a sharded run: its own HTTP session, protocol client and
Dispatcher, sending its shard of the schedule open loop with the run's own driver, and, in a
`locust_users` phase, the requests its locust worker's users ask for (harness/load/user_asks.py).

The parent (harness/session/sharded.py) starts it, sends a `ShardSetup`, waits for "ready"
(client built, connections warm), then sends a `ShardJob`: the run's t0 and this shard's
arrivals and payloads. t0 is a CLOCK_MONOTONIC reading (perf_counter_ns on Linux), which
every process on the machine shares, so the shard stamps its records against the parent's
own origin. It answers with a `ShardReport`: its records as an Arrow table and its counts.

The shard ignores SIGINT: a terminal's Ctrl-C reaches the whole process group, and the
parent decides what it means (stop sending, keep the records) through the `stop` flag.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, fields, replace
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from typing import TYPE_CHECKING, Any

import aiohttp
import pyarrow as pa
import uvloop

from harness.clients.base import Endpoint, make_client
from harness.load.clock_offset import ClockOffset
from harness.events import LoadState
from harness.load.dispatch import Dispatcher, PreparedPayloads
from harness.load.gc_pause import frozen_gc
from harness.load.openloop import run_open_loop
from harness.load.retries import Retrier, RetryPolicy
from harness.load.user_asks import serve_asks
from harness.records import RecordLog
from harness.workload.arrivals import PhaseSchedule

if TYPE_CHECKING:
    from harness.tls_trust import TlsTrust

READY = "ready"
WATCH_S = 0.05  # how often the shard looks at the stop flag and publishes its counts
STOPPED_DRAIN_S = 0.5
STATE_FIELDS = tuple(f.name for f in fields(LoadState))


class SharedFlag:
    """A stop flag in shared memory, set by the parent and read by the shard every WATCH_S.
    Not a multiprocessing Event: its named semaphore did not survive the trip from a locust
    (gevent) worker to its spawned sender, and a flag read by polling needs no lock."""

    def __init__(self, context: SpawnContext) -> None:
        self._value = context.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)


def shared_counts(context: SpawnContext, procs: int) -> Any:
    """Each shard's LoadState fields, in shared memory without a lock: a torn read only shows
    the progress line a count one tick old."""
    return context.RawArray("q", procs * len(STATE_FIELDS))


@dataclass(frozen=True)
class ShardSetup:
    shard: int
    procs: int
    protocol: str
    endpoint: Endpoint  # without its SSL context (it does not pickle): `tls` rebuilds it
    tls: TlsTrust | None
    max_in_flight: int  # this shard's part of the run's safety valve
    warm_connections: int
    drain_s: float  # how long the last request sent may still take
    retries: RetryPolicy | None
    retry_seed: str  # each shard draws its own backoff jitter


@dataclass(frozen=True)
class ShardJob:
    t0_ns: int  # on this process's clock: a worker elsewhere shifts the runner's by `clock`
    warmup_end_ns: int
    schedules: list[PhaseSchedule]
    payloads: PreparedPayloads
    clock: ClockOffset = ClockOffset()  # this process's clock against the runner's

    def on_local_clock(self, clock: ClockOffset) -> ShardJob:
        """The runner's job for a process whose clock is `clock` away from the runner's."""
        return replace(self, t0_ns=clock.to_local(self.t0_ns), warmup_end_ns=clock.to_local(self.warmup_end_ns),
                       clock=clock)


@dataclass(frozen=True)
class ShardReport:
    shard: int
    records: pa.Table  # times relative to the job's t0
    state: LoadState
    valve_hit: bool
    transport: dict[str, int]
    clock: ClockOffset


def serve_shard(conn: Connection, setup: ShardSetup, stop: SharedFlag, counts: Any,
                asks: Connection | None = None) -> None:
    """The process's entry point (a spawned process: nothing of the parent's loop is inherited).
    `asks`: the pipe on which a locust worker's own users ask for requests (harness/load/user_asks.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for pipe in filter(None, (conn, asks)):  # a pipe made in a gevent-patched parent (a locust worker) is not
        os.set_blocking(pipe.fileno(), True)
    try:
        # uvloop as `slogate run` uses it (harness/entry/eventloop.py, which this room may not import);
        # sharding needs Linux anyway: its processes share the runner's CLOCK_MONOTONIC
        uvloop.run(_serve(conn, setup, stop, counts, asks))
    finally:
        conn.close()


async def _serve(conn: Connection, setup: ShardSetup, stop: SharedFlag, counts: Any, asks: Connection | None) -> None:
    endpoint = replace(setup.endpoint, tls=setup.tls.context() if setup.tls else None)
    client = make_client(setup.protocol, endpoint)
    connector = aiohttp.TCPConnector(limit=setup.max_in_flight, ssl=endpoint.tls or True)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            await client.warm(setup.warm_connections)
            conn.send(READY)
            job: ShardJob = conn.recv()  # nothing else runs on this loop before t0
            log = RecordLog(job.t0_ns)
            retrier = None if setup.retries is None else Retrier(setup.retries, setup.retry_seed)
            dispatcher = Dispatcher(http, client, job.payloads, job.warmup_end_ns, setup.max_in_flight, log.append,
                                    retrier)
            with frozen_gc():
                await _send(dispatcher, job, setup, stop, counts, asks)
            conn.send(ShardReport(setup.shard, log.to_table(), dispatcher.state(), dispatcher.valve_hit,
                                  client.stats(), job.clock))
    finally:
        await client.close()


async def _send(dispatcher: Dispatcher, job: ShardJob, setup: ShardSetup, stop: SharedFlag,
                counts: Any, asks: Connection | None) -> None:
    watcher = asyncio.create_task(_watch(dispatcher, setup.shard, stop, counts))
    try:
        index = 0
        for schedule in job.schedules:
            if dispatcher.stop.is_set():
                break
            if schedule.arrival.open_loop:
                index += await run_open_loop(dispatcher, schedule, job.t0_ns, index)
            else:  # locust's own users (a run of them has no other phase): they ask, we send
                index += await serve_asks(dispatcher, schedule, job.t0_ns, index, asks)
        await dispatcher.drain(STOPPED_DRAIN_S if stop.is_set() else setup.drain_s)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        publish_state(counts, setup.shard, dispatcher.state())


async def _watch(dispatcher: Dispatcher, shard: int, stop: SharedFlag, counts: Any) -> None:
    """Pass the parent's stop on to the dispatcher; show the parent this shard's counts."""
    while True:
        if stop.is_set():
            dispatcher.stop.set()
        publish_state(counts, shard, dispatcher.state())
        await asyncio.sleep(WATCH_S)


def publish_state(counts: Any, shard: int, state: LoadState) -> None:
    width = len(STATE_FIELDS)
    counts[shard * width:(shard + 1) * width] = [getattr(state, name) for name in STATE_FIELDS]


def read_state(counts: Any, shard: int) -> LoadState:
    width = len(STATE_FIELDS)
    return LoadState(*counts[shard * width:(shard + 1) * width])
