"""`--procs 2` and `--engine locust --workers 2` against the real reference server: a sim model
of known lognormal service time, the same scenario sent by one process, by two, and by a real
locust master with two real workers. Each sends the schedule exactly once, reports each shard's
lag, and measures the latency one process measures; a target that dies mid-run still ends in
a report holding every request a live sending process sent."""

from __future__ import annotations

import asyncio
import math
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from harness.clock import wait_until
from harness.entry.eventloop import run as run_loop
from harness.experiments.base import BaseExperiment, experiments
from harness.fields import Seconds, Strict
from harness.scenario.loader import load_scenario
from harness.session.runner import RunResult, execute
from harness.session.session import Session
from harness.targets.base import build_target

pytestmark = pytest.mark.integration

RATE, DURATION_S = 150, 2
SCHEDULED = RATE * DURATION_S  # a constant process: exactly this many arrivals


def _scenario(make_scenario, tmp_path: Path, name: str, max_lag: str, **extra) -> Path:
    return make_scenario(tmp_path, extra.pop("repo"), "logn20", name=name, analysis={"max_lag_p99": max_lag},
                         workload={"phases": [{"duration": f"{DURATION_S}s",
                                               "arrival": {"process": "constant", "rate": RATE}}]}, **extra)


def _records(result: RunResult) -> pd.DataFrame:
    return pd.read_parquet(result.run_dir / "requests.parquet")


class KillArgs(Strict):
    at: Seconds
    shard: int  # this sending process dies too


@experiments.register("kill_target_and_shard_at", args=KillArgs)
class KillTargetAndShard(BaseExperiment):
    """SIGKILL the managed server and one sending process mid-run (the runner's process acts)."""

    async def during(self, session: Session) -> None:
        await wait_until(session.clock.at(self.args.at))
        os.kill(session.target.info.pid, signal.SIGKILL)
        os.kill(session.senders.processes[self.args.shard].pid, signal.SIGKILL)
        await asyncio.sleep(3600)


def test_two_processes_and_two_locust_workers_send_the_schedule_once_and_measure_what_one_does(
        sim_repo, tmp_path, make_scenario) -> None:
    # 10 ms: a run whose sender fell further behind (a stall of this shared box) says so, and then
    # its latency is not comparable: the comparison below is of runs that kept their schedule
    path = _scenario(make_scenario, tmp_path, "sharded", "10ms", repo=sim_repo)
    # 1 s: this run is judged on its errors and its lost process, whatever its lag
    dying = _scenario(make_scenario, tmp_path, "sharded-dies", "1s", repo=sim_repo,
                      kill_target_and_shard_at={"at": "1s", "shard": 0},
                      slos=["availability >= 99%"])

    async def runs() -> tuple[RunResult, ...]:
        scenario = load_scenario(path)
        target = build_target(scenario.target, tmp_path / "server.log", None, scenario.services)
        await target.start()  # one server: the comparison is of the senders alone (and the last run kills it)
        try:
            one = await execute(scenario, tmp_path / "out", shared_target=target)
            two = await execute(load_scenario(path, ["workload.procs=2"]), tmp_path / "out", shared_target=target)
            locust = await execute(load_scenario(path, ["workload.engine=locust", "workload.procs=2"]),
                                   tmp_path / "out", shared_target=target)
            dead = await execute(load_scenario(dying, ["workload.procs=2"]), tmp_path / "out", shared_target=target)
            return one, two, locust, dead
        finally:
            await target.stop()

    one, two, locust, dead = run_loop(runs())
    assert "shards" not in one.summary["load"]
    for sharded in (two, locust):
        _sent_once_per_shard(sharded)
        assert sorted(_records(sharded)["payload_id"]) == sorted(_records(one)["payload_id"])  # the same payloads
        assert sharded.summary["errors"]["total"] == 0
        _agree_or_say_why_not(one, sharded)
    assert (locust.run_dir / "locust.log").exists() and not (locust.run_dir / ".locust").exists()
    # a second in, the target and sending process 0 died: process 1 still recorded each of its
    # requests once, the failures as errors, and the run is invalid for the records process 0 took along
    records, load = _records(dead), dead.summary["load"]
    assert len(records) == SCHEDULED // 2 and records["payload_id"].is_unique
    assert [(s["shard"], s["sent"], s["records"]) for s in load["shards"]] == [(1, SCHEDULED // 2, SCHEDULED // 2)]
    assert dead.verdict == "invalid" and dead.summary["errors"]["total"] > SCHEDULED // 8
    assert set(dead.summary["errors"]["by_kind"]) <= {"connect", "reset"}
    assert "sending process 0 of 2 exited with code -9: its requests are missing from the records" in \
        load["invalid_reasons"]


def _agree_or_say_why_not(one: RunResult, sharded: RunResult) -> None:
    """The latency quantiles' confidence intervals overlap, unless a run fell behind its schedule
    and is invalid for it: then its latency holds the lag, and the run must say so."""
    stalled = [run for run in (one, sharded) if not run.summary["load"]["valid"]]
    for run in stalled:
        assert run.verdict == "invalid"
        assert all("fell behind" in reason or "inside its window" in reason
                   for reason in run.summary["load"]["invalid_reasons"]), run.summary["load"]["invalid_reasons"]
    if stalled:
        return
    for quantile in ("p50", "p90"):
        (low1, high1), (low2, high2) = _interval(one, quantile), _interval(sharded, quantile)
        assert low1 <= high2 and low2 <= high1, (quantile, one.summary["latency_ci_ms"], sharded.summary["latency_ci_ms"])


def _interval(result: RunResult, quantile: str) -> tuple[float, float]:
    """A latency quantile's confidence interval; a side the run could not bound (NaN) is unbounded."""
    low, high = result.summary["latency_ci_ms"][quantile]
    return (-math.inf if low is None or math.isnan(low) else low, math.inf if high is None or math.isnan(high) else high)


def _sent_once_per_shard(result: RunResult) -> None:
    records = _records(result)
    assert len(records) == SCHEDULED and records["payload_id"].is_unique
    load = result.summary["load"]
    assert load["requests"] == SCHEDULED and [shard["shard"] for shard in load["shards"]] == [0, 1]
    for shard in load["shards"]:
        assert shard["sent"] == shard["done"] == shard["records"] == SCHEDULED // 2
        assert set(shard["schedule_lag_ms"]) == {"p50", "p99", "max"}
        assert shard["clock_offset_ms"] == shard["clock_uncertainty_ms"] == 0  # the runner's own clock, exactly
