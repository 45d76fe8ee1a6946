"""The runner's side of `--engine locust`: a real locust master and N real worker processes
(`locust --master --headless` / `--worker`) send the schedule's shards.

The workers run harness/load/locust_shards.py: each sends one shard with slogate's shard
sender, open loop, and ships its records back to the master as a locust custom message; the
master hands them to the runner, which merges them into the one record log as `--procs`
does. By default the master listens on loopback and every worker is started here; with
`workload.locust` some join from other machines (`slogate locust-worker HOST:PORT`), each
measuring its clock's offset from the runner's against the master (locust_nodes.py), so that
their records still count from the runner's intended times. A scenario of `locust_users`
phases runs harness/load/locust_users.py instead: locust spawns its own users after the phases
(`users.json`), one process of them a local runner, and each worker's users ask its shard
sender for their requests, which it records the same way (its workers are all started here).
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import harness
from harness.atomic_write import atomic_path
from harness.clients.base import Endpoint
from harness.clock import NS_PER_S
from harness.events import LoadState
from harness.scenario.model import LocustMaster, Scenario
from harness.session.session import Session
from harness.session.sharded import ShardResults, publish_phases, shard_jobs, shard_setups, total_state
from harness.targets.base import TargetError
from harness.targets.supervised import free_port
from harness.tls_trust import TlsTrust

# by path, never imported here: importing locust monkey-patches the importing process for gevent
LOCUSTFILES = Path(harness.__file__).parent / "load"
SHARDS_LOCUSTFILE = LOCUSTFILES / "locust_shards.py"  # slogate's schedule, open loop
USERS_LOCUSTFILE = LOCUSTFILES / "locust_users.py"  # locust's own users (process: locust_users)
USERS_PLAN = "users.json"  # locust_users.py's USERS_PLAN
EXCHANGE = ".locust"  # under the run directory: the files the runner and the master trade
LOG = "locust.log"
LOOPBACK = "127.0.0.1"
REPORT_SLACK_S = 30.0
POLL_S = 0.05
QUIT_S = 10.0


@dataclass
class LocustLoad:
    procs: int
    exchange: Path
    processes: list[subprocess.Popen]  # the master first, then the workers
    drain_s: float
    results: ShardResults = field(init=False)

    def __post_init__(self) -> None:
        self.results = ShardResults(self.procs)

    @classmethod
    async def start(cls, scenario: Scenario, endpoint: Endpoint, tls: TlsTrust | None, warm_connections: int,
                    drain_s: float, run_dir: Path) -> LocustLoad:
        exchange = run_dir / EXCHANGE
        exchange.mkdir()
        for setup in shard_setups(scenario, endpoint, tls, warm_connections, drain_s):
            (exchange / f"setup-{setup.shard}.pkl").write_bytes(pickle.dumps(setup))
        workload = scenario.workload
        master = workload.locust or LocustMaster()
        port = master.port or free_port()
        with (run_dir / LOG).open("ab") as log:
            processes = _locust_processes(scenario, master, port, exchange, log)
        if workload.remote_workers:
            print(f"waiting {master.join_timeout:g} s for {workload.remote_workers} locust workers to join: run "
                  f"`slogate locust-worker THIS_HOST:{port}` on each machine", file=sys.stderr, flush=True)
        load = cls(workload.procs, exchange, processes, drain_s)
        try:
            await load._ready(run_dir / LOG, master.join_timeout)
        except BaseException:
            load.close()
            raise
        return load

    async def _ready(self, log: Path, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not (self.exchange / "ready").exists():
            exited = [p for p in self.processes if p.poll() is not None]
            if exited or time.monotonic() > deadline:
                why = f"a locust process exited with code {exited[0].returncode}" if exited else "timed out"
                raise TargetError(f"--engine locust: the master and {self.procs} workers did not get ready ({why}); "
                                  f"see {log}")
            await asyncio.sleep(POLL_S)

    def state(self) -> LoadState:
        """The workers' counts as they last sent them (every 0.5 s), for the progress line."""
        return total_state([LoadState(*pickle.loads(path.read_bytes())) for path in self.exchange.glob("state-*")])

    async def send(self, session: Session) -> None:
        # the master polls for these: each must appear whole
        if _has_locust_users(session.scenario):
            _write_whole(self.exchange / USERS_PLAN, json.dumps(_users_plan(session)).encode())
        _write_whole(self.exchange / "jobs.pkl", pickle.dumps([pickle.dumps(job) for job in shard_jobs(session)]))
        relay = asyncio.create_task(self._relay_stop(session))
        phases = asyncio.create_task(publish_phases(session))
        deadline = time.monotonic() + session.scenario.workload.duration_s + self.drain_s + REPORT_SLACK_S
        try:
            while self.processes[0].poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
        finally:
            for task in (relay, phases):
                task.cancel()
            await asyncio.gather(relay, phases, return_exceptions=True)
        self.results.merge(session, [self._report(shard) for shard in range(self.procs)])

    async def _relay_stop(self, session: Session) -> None:
        await session.dispatcher.stop.wait()
        (self.exchange / "stop").touch()

    def _report(self, shard: int):
        path = self.exchange / f"report-{shard}.pkl"
        if not path.exists():
            self.results.lose(shard, "(a locust worker) sent no records back")
            return None
        return pickle.loads(path.read_bytes())

    def close(self) -> None:
        for process in self.processes:  # the master's quit ends its workers; these are the stragglers
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(QUIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.exchange, ignore_errors=True)  # payloads and records: the run keeps its own


def _has_locust_users(scenario: Scenario) -> bool:
    return scenario.workload.phases[0].arrival.engine == "locust"  # then every phase's is


def _locust_processes(scenario: Scenario, master: LocustMaster, port: int, exchange: Path,
                      log) -> list[subprocess.Popen]:
    """The master first, then the workers started here. Locust's own users follow
    locust_users.py's shape, one process of them a local runner; slogate's schedule is sent by
    one ShardUser a worker."""
    workload = scenario.workload
    procs = workload.procs
    if not _has_locust_users(scenario):
        locustfile, spawned = SHARDS_LOCUSTFILE, ["--users", str(procs), "--spawn-rate", str(procs)]
    elif procs == 1:
        return [_locust(USERS_LOCUSTFILE, ["--headless", "--only-summary"], exchange, log)]
    else:
        locustfile, spawned = USERS_LOCUSTFILE, []
    head = _locust(locustfile, ["--master", "--headless", "--master-bind-host", master.host, "--master-bind-port",
                                str(port), "--expect-workers", str(procs), *spawned, "--only-summary"], exchange, log)
    return [head, *(_locust(locustfile, worker_role(LOOPBACK, port), exchange, log)
                    for _ in range(procs - workload.remote_workers))]


def _users_plan(session: Session) -> list[list[float]]:
    """Each phase's start and end (ns on the run's clock), its locust users and their spawn rate,
    for locust_users.py's load shape (every phase of such a run is locust_users)."""
    t0 = session.clock.t0_ns
    return [[t0 + round(s.start_s * NS_PER_S), t0 + round(s.end_s * NS_PER_S), s.arrival.user_count(),
             s.arrival.users_per_s] for s in session.schedules]


def _write_whole(path: Path, data: bytes) -> None:
    with atomic_path(path) as partial:
        partial.write_bytes(data)


def worker_role(host: str, port: int) -> list[str]:
    return ["--worker", "--master-host", host, "--master-port", str(port)]


def locust_command(role: list[str], locustfile: Path = SHARDS_LOCUSTFILE) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "INFO", *role]


def locust_env() -> dict[str, str]:
    """This harness importable by locust's processes, wherever it was run from."""
    return os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(harness.__file__).parent.parent),
                                                                      os.environ.get("PYTHONPATH")]))}


def _locust(locustfile: Path, role: list[str], exchange: Path, log) -> subprocess.Popen:
    # its own session: a terminal's Ctrl-C is the runner's to relay (as `stop`), not locust's to act on
    return subprocess.Popen(locust_command(role, locustfile), stdout=log, stderr=log,
                            env=locust_env() | {"SLOGATE_LOCUST_DIR": str(exchange)}, start_new_session=True)
