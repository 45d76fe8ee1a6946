"""The runner's side of `--engine locust`: a real locust master and N real worker processes
(`locust --master --headless` / `--worker`) send the schedule's shards.

The workers run harness/load/locust_shards.py: each sends one shard with slogate's shard
sender, open loop, and ships its records back to the master as a locust custom message; the
master hands them to the runner, which merges them into the one record log as `--procs`
does. By default the master listens on loopback and every worker is started here; with
`workload.locust` some join from other machines (`slogate locust-worker HOST:PORT`), each
measuring its clock's offset from the runner's against the master (locust_shards.py), so that
their records still count from the runner's intended times.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import harness
from harness.clients.base import Endpoint
from harness.events import LoadState
from harness.scenario.model import LocustMaster, Scenario
from harness.session.session import Session
from harness.session.sharded import ShardResults, publish_phases, shard_jobs, shard_setups, total_state
from harness.targets.base import TargetError
from harness.targets.supervised import free_port
from harness.tls_trust import TlsTrust

# by path, never imported here: importing locust monkey-patches the importing process for gevent
LOCUSTFILE = Path(harness.__file__).parent / "load" / "locust_shards.py"
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
        procs, port = workload.procs, master.port or free_port()
        with (run_dir / LOG).open("ab") as log:
            processes = [_locust(["--master", "--headless", "--master-bind-host", master.host, "--master-bind-port",
                                  str(port), "--expect-workers", str(procs), "--users", str(procs), "--spawn-rate",
                                  str(procs), "--only-summary"], exchange, log)]
            processes += [_locust(worker_role(LOOPBACK, port), exchange, log)
                          for _ in range(procs - workload.remote_workers)]
        if workload.remote_workers:
            print(f"waiting {master.join_timeout:g} s for {workload.remote_workers} locust workers to join: run "
                  f"`slogate locust-worker THIS_HOST:{port}` on each machine", file=sys.stderr, flush=True)
        load = cls(procs, exchange, processes, drain_s)
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
        jobs = self.exchange / "jobs.pkl"
        partial = self.exchange / ".jobs.partial"
        partial.write_bytes(pickle.dumps([pickle.dumps(job) for job in shard_jobs(session)]))
        partial.rename(jobs)  # the master polls for it: it must appear whole
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


def worker_role(host: str, port: int) -> list[str]:
    return ["--worker", "--master-host", host, "--master-port", str(port)]


def locust_command(role: list[str]) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "INFO", *role]


def locust_env() -> dict[str, str]:
    """This harness importable by locust's processes, wherever it was run from."""
    return os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(Path(harness.__file__).parent.parent),
                                                                      os.environ.get("PYTHONPATH")]))}


def _locust(role: list[str], exchange: Path, log) -> subprocess.Popen:
    # its own session: a terminal's Ctrl-C is the runner's to relay (as `stop`), not locust's to act on
    return subprocess.Popen(locust_command(role), stdout=log, stderr=log,
                            env=locust_env() | {"SLOGATE_LOCUST_DIR": str(exchange)}, start_new_session=True)
