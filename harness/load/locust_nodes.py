"""The locust master's and workers' parts of `--engine locust`, for its two locustfiles
(locust_shards.py: slogate's schedule, open loop; locust_users.py: locust's own users). Imported
only by those, run by `locust -f`, never by the runner (importing locust monkey-patches the
process for gevent).

Each worker sends one shard with slogate's own shard sender (harness/load/shard_sender.py) in a
spawned process: uvloop and slogate's clients, records stamped by its Dispatcher. The sender runs
beside the worker rather than inside it because a gevent worker must keep answering the
master's heartbeats, and an asyncio run inside a greenlet would starve them. Locust's own users
(`process: locust_users`) live in the worker and ask the sender for each request over a second
pipe (harness/load/user_asks.py).

The conversation, all through locust's custom messages:

    master → worker  slogate_setup (shard k's ShardSetup)   worker spawns its sender, warms it
    worker ↔ master  slogate_clock ×16 (elsewhere only)      the worker's clock against the runner's
    worker → master  slogate_ready (k)
    master → runner  the file `ready`, once every worker is ready; the runner fixes t0
    runner → master  `jobs.pkl` (each shard's t0, arrivals and payloads)
    master → worker  slogate_job                             the sender sends its shard
    worker → master  slogate_state, every 0.5 s (its counts)  master writes state-k (the progress line)
    worker → master  slogate_report (records, counts)        master writes report-k.pkl, quits
    runner → master  `stop` (Ctrl-C)  →  slogate_stop to every worker

With locust's own users (locust_users.py), the runner also writes `users.json` beside `jobs.pkl`:
each phase's start and end on the run's clock, its users and spawn rate. The master's load shape
reads it and has locust spawn and stop the users; each worker's users ask its sender for requests.

The master speaks to the runner through files in $SLOGATE_LOCUST_DIR (one machine) and only
moves bytes: it never unpickles a harness object. Pickled objects cross between the runner and
the workers, so every node must run the same harness version, and a worker must only be
pointed at a master the user runs (what it is sent, it unpickles).

Clocks: the master runs beside the runner and reads its CLOCK_MONOTONIC. A worker that reads the
same clock (clock_offset.clock_identity: same boot, same time namespace) takes the runner's t0
as it is; one elsewhere measures its offset against the master (harness/load/clock_offset.py)
and shifts its job onto its own clock, and its shard reports the offset and its uncertainty.
A local runner is master and worker in one process: one clock, nothing to measure.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import time
from dataclasses import astuple
from pathlib import Path

import gevent
from gevent.event import AsyncResult
from gevent.queue import Queue
from gevent.socket import wait_read
from locust import events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

# imported now, before the worker connects: imported later, inside a greenlet, the harness's
# imports (seconds on a busy machine) blocked the worker's heartbeats and the master dropped it
from harness.clock import NS_PER_S
from harness.load.clock_offset import EXCHANGES, ClockOffset, Exchange, clock_identity, estimate
from harness.load.shard_sender import ShardJob, SharedFlag, read_state, serve_shard, shared_counts
from harness.load.user_asks import ANSWER, ASK
from harness.workload.arrivals import PhaseSchedule

POLL_S = 0.01
STATE_EVERY_S = 0.5  # a worker's counts for the runner's progress line
SETUP, READY, JOB, STOP, REPORT = "slogate_setup", "slogate_ready", "slogate_job", "slogate_stop", "slogate_report"
STATE, CLOCK = "slogate_state", "slogate_clock"
CLOCK_TIMEOUT_S = 10.0  # for the master's answer to one clock exchange
LOCAL = "local"  # a LocalRunner's node id in the messages it sends itself


class Master:
    """Hands shards to workers and their records to the runner. On a LocalRunner (no workers: it
    runs the users itself) it hands its one shard to the Worker beside it: a local runner's
    messages go to its own listeners, from node "local"."""

    def __init__(self, runner: MasterRunner | LocalRunner, exchange: Path) -> None:
        self.runner, self.exchange = runner, exchange
        self.shards: dict[str, int] = {}  # worker id → shard
        self.ready: set[int] = set()
        self.reported: set[int] = set()
        runner.register_message(READY, lambda msg, **_: self.ready.add(msg.data))
        runner.register_message(REPORT, self._report)
        runner.register_message(STATE, self._state)
        if isinstance(runner, MasterRunner):  # a local runner's worker is itself: no clock to measure
            runner.register_message(CLOCK, self._clock)
        events.test_start.add_listener(self._start)
        self.identity = clock_identity()

    def _start(self, **_) -> None:
        workers = sorted(self.runner.clients.keys()) if isinstance(self.runner, MasterRunner) else [LOCAL]
        for shard, worker in enumerate(workers):
            self.shards[worker] = shard
            self.runner.send_message(SETUP, (self.exchange / f"setup-{shard}.pkl").read_bytes(), client_id=worker)
        gevent.spawn(self._conduct)

    def _conduct(self) -> None:
        while len(self.ready) < len(self.shards):
            gevent.sleep(POLL_S)
        (self.exchange / "ready").touch()
        jobs = self.exchange / "jobs.pkl"
        while not jobs.exists():
            gevent.sleep(POLL_S)
        for worker, job in zip(sorted(self.shards, key=self.shards.get), pickle.loads(jobs.read_bytes()), strict=True):
            self.runner.send_message(JOB, job, client_id=worker)
        stop = self.exchange / "stop"
        while not stop.exists():
            gevent.sleep(POLL_S)
        self.runner.send_message(STOP)

    def _clock(self, msg, **_) -> None:
        """The runner's clock now (the master shares it), for a worker measuring its offset."""
        self.runner.send_message(CLOCK, (msg.data, time.perf_counter_ns(), self.identity), client_id=msg.node_id)

    def _state(self, msg, **_) -> None:
        self._write(f"state-{self.shards[msg.node_id]}", pickle.dumps(msg.data))

    def _report(self, msg, **_) -> None:
        shard = self.shards[msg.node_id]
        self._write(f"report-{shard}.pkl", msg.data)
        self.reported.add(shard)
        if len(self.reported) == len(self.shards):
            gevent.spawn_later(0.1, self.runner.quit)  # not from inside the message handler


    def _write(self, name: str, data: bytes) -> None:
        """Whole or not at all: the runner may read it at any moment."""
        partial = self.exchange / f".{name}.partial"
        partial.write_bytes(data)
        partial.rename(self.exchange / name)


class Worker:
    """Keeps what the master sent until this worker's conductor takes it (locust_shards.py's
    ShardUser, or locust_users.py's greenlet). With `users`, its sender also serves the requests
    this worker's locust users ask for, once `asks` is set."""

    def __init__(self, runner: WorkerRunner | LocalRunner, users: bool = False) -> None:
        self.runner = runner
        self.users = users
        self.setups: Queue = Queue()
        self.jobs: Queue = Queue()
        self.asks: AsyncResult = AsyncResult()  # the UserAsks, once the job is here
        self.clock_answers: Queue = Queue()
        self.identity = clock_identity()
        self.stopped = False
        runner.register_message(SETUP, lambda msg, **_: self.setups.put(msg.data))
        runner.register_message(JOB, lambda msg, **_: self.jobs.put(msg.data))
        runner.register_message(CLOCK, lambda msg, **_: self.clock_answers.put((msg.data, time.perf_counter_ns())))
        runner.register_message(STOP, lambda msg, **_: setattr(self, "stopped", True))

    def send_shard(self) -> None:
        """Start this worker's sender, report it ready, pass it its job, return its records."""
        setup_bytes = self.setups.get()
        setup = pickle.loads(setup_bytes)
        context = multiprocessing.get_context("spawn")
        stop, counts = SharedFlag(context), shared_counts(context, setup.procs)
        ours, theirs = context.Pipe()
        asks_ours, asks_theirs = context.Pipe() if self.users else (None, None)
        sender = context.Process(target=serve_shard, args=(theirs, setup, stop, counts, asks_theirs), daemon=True)
        sender.start()
        for pipe in filter(None, (theirs, asks_theirs)):
            pipe.close()
        for pipe in filter(None, (ours, asks_ours)):  # gevent made them non-blocking: a large job would fail half-written
            os.set_blocking(pipe.fileno(), True)
        _receive(ours)  # "ready": client built, connections warm
        clock = self._clock()
        self.runner.send_message(READY, setup.shard)
        job = self.jobs.get()  # pickled by the runner; on the runner's clock
        if clock != ClockOffset():
            job = pickle.dumps(pickle.loads(job).on_local_clock(clock))
        if self.users:
            self.asks.set(UserAsks(asks_ours, pickle.loads(job)))
        ours.send_bytes(job)
        watcher = gevent.spawn(self._relay, stop, counts, setup.shard)
        try:
            self.runner.send_message(REPORT, _receive(ours))
        finally:
            watcher.kill()
            sender.join(5)

    def _clock(self) -> ClockOffset:
        """This worker's clock against the runner's: none to measure where they are one clock."""
        if not isinstance(self.runner, WorkerRunner):
            return ClockOffset()  # a local runner: the runner's own machine
        exchanges = []
        for _ in range(EXCHANGES):
            self.runner.send_message(CLOCK, time.perf_counter_ns())
            (sent_ns, runner_ns, identity), received_ns = self.clock_answers.get(timeout=CLOCK_TIMEOUT_S)
            if identity == self.identity:
                return ClockOffset()
            exchanges.append(Exchange(sent_ns, runner_ns, received_ns))
        return estimate(exchanges)

    def _relay(self, stop: SharedFlag, counts, shard: int) -> None:
        """The master's stop to the sender; the sender's counts to the master."""
        while not self.stopped:
            gevent.sleep(STATE_EVERY_S)
            self.runner.send_message(STATE, list(astuple(read_state(counts, shard))))
        stop.set()


class UserAsks:
    """The worker's end of the asks pipe: a user's ask blocks its greenlet (only) until the
    sender answers; one reader greenlet hands each answer to the user that asked."""

    def __init__(self, conn, job: ShardJob) -> None:
        self.conn, self.job = conn, job
        self.waiting: dict[int, AsyncResult] = {}
        self.ids = itertools.count()
        gevent.spawn(self._answers)

    def ask(self) -> bool:
        """One request, sent and answered; False: the sender sends no more."""
        request_id, answer = next(self.ids), AsyncResult()
        self.waiting[request_id] = answer
        self.conn.send_bytes(ASK.pack(request_id))  # a few bytes: one atomic write, no greenlet switch inside
        return answer.get()

    def phase_at(self, now_ns: int) -> PhaseSchedule:
        """The phase holding this moment (the first before the run starts, the last after it ends)."""
        elapsed_s = (now_ns - self.job.t0_ns) / NS_PER_S
        return next((s for s in self.job.schedules if elapsed_s < s.end_s), self.job.schedules[-1])

    def _answers(self) -> None:
        fd = self.conn.fileno()
        while True:
            wait_read(fd)  # cooperative: the worker's heartbeats go on
            while self.conn.poll():
                request_id, sent = ANSWER.unpack(self.conn.recv_bytes())
                self.waiting.pop(request_id).set(sent)


def _receive(conn) -> bytes:
    """The sender's next message, raw; a blocking recv would stall the worker's heartbeats."""
    while not conn.poll():
        gevent.sleep(POLL_S)
    return conn.recv_bytes()
