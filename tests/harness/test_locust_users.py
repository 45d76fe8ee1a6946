"""Locust's own closed-loop users (`process: locust_users`, `engine: locust`) against the real
reference server: real locust (a local runner, then a master with two workers) spawns the users
and runs its own wait functions; slogate's sender sends and records each request. A sim model of
constant 20 ms service time bounds what a user can send: without locust's wait a user would send
up to 50 requests a second, with `constant_throughput: 4` at most 4. Each record's intended time
is its send time, and the run says plainly that queueing is hidden (coordinated omission)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.entry.eventloop import run as run_loop
from harness.scenario.loader import load_scenario
from harness.session.runner import execute

pytestmark = pytest.mark.integration

PHASES = [  # (name, duration s, users, wait): each bounds its users' requests (see _at_most)
    ("paced", 3, 3, {"constant_throughput": 4}),  # locust polls the shape once a second: users start within 1 s
    ("spread", 2, 4, {"between": [0.1, 0.2]}),
]


def _scenario(make_scenario, sim_repo: Path, tmp_path: Path) -> Path:
    phases = [{"name": name, "duration": f"{seconds}s",
               "arrival": {"process": "locust_users", "users": users, "spawn_rate": 50, "wait": wait}}
              for name, seconds, users, wait in PHASES]
    return make_scenario(tmp_path, sim_repo, "const20", name="locust-users", workload={"engine": "locust",
                         "phases": phases}, slos=["error_rate < 1%"])


def _at_most(seconds: float, users: int, wait: dict) -> int:
    """The most requests locust's wait function lets `users` users send in `seconds`: each sends
    once on spawning, then once per wait (constant_throughput: once per 1/rate)."""
    least_gap_s = 1 / wait["constant_throughput"] if "constant_throughput" in wait else wait["between"][0]
    return users * (int(seconds / least_gap_s) + 1)


@pytest.mark.parametrize("workers", [1, 2], ids=["local-runner", "two-workers"])
def test_locust_users_send_through_slogate_with_no_schedule_and_say_queueing_is_hidden(
        sim_repo, tmp_path, make_scenario, workers: int) -> None:
    scenario = load_scenario(_scenario(make_scenario, sim_repo, tmp_path), [f"workload.procs={workers}"])
    result = run_loop(execute(scenario, tmp_path / "out"))
    records = pd.read_parquet(result.run_dir / "requests.parquet")
    assert (records["intended_ns"] == records["sent_ns"]).all()  # no schedule: sent when the user asked
    for index, (name, seconds, users, wait) in enumerate(PHASES):
        sent = int((records["phase"] == index).sum())
        assert 0 < sent <= _at_most(seconds, users, wait), (name, sent)  # locust's wait held them back
    load = result.summary["load"]
    assert [s["shard"] for s in load["shards"]] == list(range(workers))
    assert all(s["sent"] == s["done"] == s["records"] > 0 for s in load["shards"])
    assert sum(s["records"] for s in load["shards"]) == len(records)
    assert load["valid"] and load["target_rate"] is None and result.summary["errors"]["total"] == 0
    assert load["closed_loop_phases"] == [name for name, *_ in PHASES]
    assert "the send time" in load["latency_counts_from"]
    assert "coordinated omission" in load["latency_counts_from"]
    html = (result.run_dir / "report.html").read_text()
    assert "Closed loop: queueing is hidden." in html and "no coordinated omission" not in html
    log = (result.run_dir / "locust.log").read_text()
    assert f"Shape test updating to {PHASES[-1][2]} users" in log and "SlogateUser" in log  # locust spawned them
    # one process is a local runner, spawning users itself; more are a master and its workers
    assert ("Ramping to" in log) == (workers == 1) and (f"{workers} workers connected" in log) == (workers > 1)
    assert not (result.run_dir / ".locust").exists()
