"""The locustfile of `--engine locust` for locust's own closed-loop users (`process: locust_users`):
run by `locust -f` in a locust master and its workers, never imported by the runner (importing
locust monkey-patches the process for gevent). The conversation is harness/load/locust_nodes.py's.

Locust runs the users: the master's load shape (`PhasesShape`) asks for each phase's users at
its spawn rate, and locust's own dispatcher spreads them over the workers and spawns them. With
one sending process (no --workers) it is a local runner, master and worker in one process. A
`SlogateUser`'s task asks its worker's shard sender for one request and returns when it was
answered; locust then waits the phase's wait function (locust.wait_time's own
`constant_throughput`, `between`, `constant`) and runs the task again: a closed loop. Each
worker's conductor greenlet runs the sender from setup to report, as `ShardUser` does for the
open loop (no user of its own: the shape would count it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import gevent
from locust import LoadTestShape, User, events, task
from locust import wait_time as locust_wait_time
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from harness.load.locust_nodes import Master, Worker
from harness.workload.arrivals import PhaseSchedule

USERS_PLAN = "users.json"  # written by the runner at t0: [[start_ns, end_ns, users, spawn_rate], ...]
IDLE = (0, 1.0)
STOP_RATE = 1000.0  # users stopped per second once the last phase has ended
NODE: dict[str, Worker] = {}


@events.init.add_listener
def _on_init(environment, **_) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner | LocalRunner):  # a local runner is its own master and worker
        Master(runner, Path(os.environ["SLOGATE_LOCUST_DIR"]))
    if isinstance(runner, WorkerRunner | LocalRunner):
        worker = NODE["worker"] = Worker(runner, users=True)
        gevent.spawn(worker.send_shard)  # this worker's conductor: its sender, from setup to report


class PhasesShape(LoadTestShape):
    """Each phase's users and spawn rate while it lasts, on the run's clock (one CLOCK_MONOTONIC on
    this machine); none before t0 and after the last phase. Locust polls a shape once a second,
    so users change up to a second after a phase starts; the sender counts each request in the
    phase its send time falls in."""

    plan: list[list[float]] | None = None

    def tick(self) -> tuple[int, float]:
        plan = self.plan or self._read_plan()
        if plan is None:
            return IDLE
        now = time.perf_counter_ns()
        for start_ns, end_ns, users, spawn_rate in plan:
            if now < end_ns:
                return (int(users), spawn_rate) if now >= start_ns else IDLE
        return 0, STOP_RATE  # not None: the master quits once every worker's records are in

    def _read_plan(self) -> list[list[float]] | None:
        path = Path(os.environ["SLOGATE_LOCUST_DIR"]) / USERS_PLAN
        if path.exists():
            self.plan = json.loads(path.read_text())
        return self.plan


WAITS: dict[int, Callable[[User], float]] = {}  # phase index → its locust wait function


def _wait_function(phase: PhaseSchedule) -> Callable[[User], float]:
    if phase.index not in WAITS:
        name, args = phase.arrival.wait.call()
        WAITS[phase.index] = getattr(locust_wait_time, name)(*args)
    return WAITS[phase.index]


class SlogateUser(User):
    """One locust user: a request through slogate's sender, its answer, locust's wait, again."""

    def wait_time(self) -> float:
        return _wait_function(NODE["worker"].asks.get().phase_at(time.perf_counter_ns()))(self)

    @task
    def request(self) -> None:
        if not NODE["worker"].asks.get().ask():
            while True:  # the sender sends no more (stopped): idle until locust stops this user
                gevent.sleep(1.0)
