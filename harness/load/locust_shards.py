"""The locustfile of `--engine locust` for slogate's own schedule (open loop): run by `locust -f`
in a locust master and its workers, never imported by the runner (importing locust
monkey-patches the process for gevent). The conversation is harness/load/locust_nodes.py's.

Open loop keeps its meaning: each worker runs one `ShardUser`, which sends that worker's shard
of slogate's arrival schedule with slogate's shard sender, latency counted from the intended time.
"""

from __future__ import annotations

import os
from pathlib import Path

import gevent
from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

from harness.load.locust_nodes import Master, Worker

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
