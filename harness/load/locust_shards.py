"""The locustfile of `--engine locust`: run by `locust -f` in a locust master and its workers,
never imported by the runner (importing locust monkey-patches the process for gevent).

Open loop keeps its meaning. Each worker runs one `ShardUser`, which sends one shard of
slogate's arrival schedule with slogate's own shard sender (harness/load/shard_sender.py) in
a spawned process: uvloop and slogate's clients, latency counted from the intended time. The
sender runs beside the worker rather than inside it because a gevent worker must keep
answering the master's heartbeats, and an asyncio run inside a greenlet would starve them.

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

The master speaks to the runner through files in $SLOGATE_LOCUST_DIR (one machine) and only
moves bytes: it never unpickles a harness object. Pickled objects cross between the runner and
the workers, so every node must run the same harness version, and a worker must only be
pointed at a master the user runs (what it is sent, it unpickles).

Clocks: the master runs beside the runner and reads its CLOCK_MONOTONIC. A worker that reads the
same clock (clock_offset.clock_identity: same boot, same time namespace) takes the runner's t0
as it is; one elsewhere measures its offset against the master (harness/load/clock_offset.py)
and shifts its job onto its own clock, and its shard reports the offset and its uncertainty.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from dataclasses import astuple
from pathlib import Path

import gevent
from gevent.queue import Queue
from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

# imported now, before the worker connects: imported later, inside a greenlet, the harness's
# imports (seconds on a busy machine) blocked the worker's heartbeats and the master dropped it
from harness.load.clock_offset import EXCHANGES, ClockOffset, Exchange, clock_identity, estimate
from harness.load.shard_sender import SharedFlag, read_state, serve_shard, shared_counts

POLL_S = 0.01
STATE_EVERY_S = 0.5  # a worker's counts for the runner's progress line
SETUP, READY, JOB, STOP, REPORT = "slogate_setup", "slogate_ready", "slogate_job", "slogate_stop", "slogate_report"
STATE, CLOCK = "slogate_state", "slogate_clock"
CLOCK_TIMEOUT_S = 10.0  # for the master's answer to one clock exchange


class Master:
    """Hands shards to workers and their records to the runner."""

    def __init__(self, runner: MasterRunner, exchange: Path) -> None:
        self.runner, self.exchange = runner, exchange
        self.shards: dict[str, int] = {}  # worker id → shard
        self.ready: set[int] = set()
        self.reported: set[int] = set()
        runner.register_message(READY, lambda msg, **_: self.ready.add(msg.data))
        runner.register_message(REPORT, self._report)
        runner.register_message(STATE, self._state)
        runner.register_message(CLOCK, self._clock)
        events.test_start.add_listener(self._start)
        self.identity = clock_identity()

    def _start(self, **_) -> None:
        for shard, worker in enumerate(sorted(self.runner.clients.keys())):
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
    """Keeps what the master sent until this worker's ShardUser takes it."""

    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner
        self.setups: Queue = Queue()
        self.jobs: Queue = Queue()
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
        sender = context.Process(target=serve_shard, args=(theirs, setup, stop, counts), daemon=True)
        sender.start()
        theirs.close()
        os.set_blocking(ours.fileno(), True)  # gevent made it non-blocking: a large job would fail half-written
        _receive(ours)  # "ready": client built, connections warm
        clock = self._clock()
        self.runner.send_message(READY, setup.shard)
        job = self.jobs.get()  # pickled by the runner; on the runner's clock
        ours.send_bytes(job if clock == ClockOffset() else pickle.dumps(pickle.loads(job).on_local_clock(clock)))
        watcher = gevent.spawn(self._relay, stop, counts, setup.shard)
        try:
            self.runner.send_message(REPORT, _receive(ours))
        finally:
            watcher.kill()
            sender.join(5)

    def _clock(self) -> ClockOffset:
        """This worker's clock against the runner's: none to measure where they are one clock."""
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


def _receive(conn) -> bytes:
    """The sender's next message, raw; a blocking recv would stall the worker's heartbeats."""
    while not conn.poll():
        gevent.sleep(POLL_S)
    return conn.recv_bytes()


NODE: dict[str, Worker] = {}


@events.init.add_listener
def _on_init(environment, **_) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        Master(runner, Path(os.environ["SLOGATE_LOCUST_DIR"]))
    elif isinstance(runner, WorkerRunner):
        NODE["worker"] = Worker(runner)


class ShardUser(User):
    """One per worker: sends that worker's shard of the schedule once, at its intended times."""

    @task
    def send_shard(self) -> None:
        NODE["worker"].send_shard()
        while True:  # one shard per worker: idle until the master ends the test
            gevent.sleep(1.0)
