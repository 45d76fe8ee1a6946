"""`--procs 2` against the real reference server: a sim model of known lognormal service time,
the same scenario sent by one process and by two. Two sending processes send the schedule
exactly once, report each shard's lag, and measure the latency one process measures; a target
that dies mid-run still ends in a report holding every request."""

from __future__ import annotations

import asyncio
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


def _scenario(make_scenario, tmp_path: Path, name: str, **extra) -> Path:
    # lag is reported, not judged, here: on a shared 2-core box either run may fall behind
    return make_scenario(tmp_path, extra.pop("repo"), "logn20", name=name, analysis={"max_lag_p99": "1s"},
                         workload={"phases": [{"duration": f"{DURATION_S}s",
                                               "arrival": {"process": "constant", "rate": RATE}}]}, **extra)


def _records(result: RunResult) -> pd.DataFrame:
    return pd.read_parquet(result.run_dir / "requests.parquet")


class KillArgs(Strict):
    at: Seconds


@experiments.register("kill_target_at", args=KillArgs)
class KillTarget(BaseExperiment):
    """SIGKILL the managed server mid-run (the parent process acts; the shards only send)."""

    async def during(self, session: Session) -> None:
        await wait_until(session.clock.at(self.args.at))
        os.kill(session.target.info.pid, signal.SIGKILL)
        await asyncio.sleep(3600)


def test_two_processes_send_the_schedule_once_measure_what_one_does_and_survive_a_dead_target(
        sim_repo, tmp_path, make_scenario) -> None:
    path = _scenario(make_scenario, tmp_path, "sharded", repo=sim_repo)
    dying = _scenario(make_scenario, tmp_path, "sharded-dies", repo=sim_repo, kill_target_at={"at": "1s"},
                      slos=["availability >= 99%"])

    async def runs() -> tuple[RunResult, RunResult, RunResult]:
        scenario = load_scenario(path)
        target = build_target(scenario.target, tmp_path / "server.log", None, scenario.services)
        await target.start()  # one server: the comparison is of the senders alone (and the last run kills it)
        try:
            one = await execute(scenario, tmp_path / "out", shared_target=target)
            two = await execute(load_scenario(path, ["workload.procs=2"]), tmp_path / "out", shared_target=target)
            dead = await execute(load_scenario(dying, ["workload.procs=2"]), tmp_path / "out", shared_target=target)
            return one, two, dead
        finally:
            await target.stop()

    one, two, dead = run_loop(runs())
    _sent_once_per_shard(two)
    assert sorted(_records(two)["payload_id"]) == sorted(_records(one)["payload_id"])  # the same payloads were sent
    assert "shards" not in one.summary["load"] and two.summary["errors"]["total"] == 0
    for quantile in ("p50", "p90"):  # the two runs' confidence intervals overlap: the same latency
        (low1, high1), (low2, high2) = one.summary["latency_ci_ms"][quantile], two.summary["latency_ci_ms"][quantile]
        assert low1 <= high2 and low2 <= high1, (quantile, one.summary["latency_ci_ms"], two.summary["latency_ci_ms"])
    # the target died a second in: every request is still recorded once, the failures as errors
    _sent_once_per_shard(dead)
    assert dead.verdict == "fail" and dead.summary["errors"]["total"] > SCHEDULED // 4
    assert set(dead.summary["errors"]["by_kind"]) <= {"connect", "reset"}


def _sent_once_per_shard(result: RunResult) -> None:
    records = _records(result)
    assert len(records) == SCHEDULED and records["payload_id"].is_unique
    load = result.summary["load"]
    assert load["requests"] == SCHEDULED and [shard["shard"] for shard in load["shards"]] == [0, 1]
    for shard in load["shards"]:
        assert shard["sent"] == shard["done"] == shard["records"] == SCHEDULED // 2
        assert set(shard["schedule_lag_ms"]) == {"p50", "p99", "max"}
