"""Cold starts against the real reference server: a spawn with the load already scheduled,
and versions scaling to zero beside a warm pool; plus the block's load-time mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_chaos_runs import LAG, slogate_run, verdicts

from harness.clock import NS_PER_S
from harness.scenario.loader import ScenarioError, load_scenario

LOAD_MS = 1000


def _sim_version(repo: Path, model: str, version: str, sim: dict) -> None:
    directory = repo / model / version
    directory.mkdir(parents=True)
    (directory / "model.json").write_text(json.dumps({
        "backend": "sim", "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "score", "datatype": "FP32", "shape": [-1, 1]}], "sim": sim}))


@pytest.fixture(scope="module")
def slow_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """slowload: two 5 ms versions whose every load takes 1 s (a slow artifact fetch)."""
    repo = tmp_path_factory.mktemp("slow-repo")
    for version in ("1", "2"):
        _sim_version(repo, "slowload", version, {"distribution": "constant", "median_ms": 5, "load_ms": LOAD_MS})
    return repo


def poisson(duration: str, rate: int) -> dict:
    return {"phases": [{"duration": duration, "arrival": {"process": "poisson", "rate": rate}}]}


def test_a_spawn_schedules_the_load_from_the_spawn_and_counts_the_start_up(slow_repo, tmp_path, make_scenario) -> None:
    slos = ["time_to_ready < 30s", "availability >= 95% in after(startup)", "availability >= 99% in run"]
    path = make_scenario(tmp_path, slow_repo, "slowload", name="spawn", workload=poisson("12s", 40),
                         cold_start={"start": "spawn", "first_successes": 10}, slos=slos,
                         analysis={**LAG, "recovery": {"hold": "2s", "allowance": "1s"}})
    code, summary = slogate_run(path, tmp_path / "out")
    section = summary["cold_start"]
    assert section["time_to_ready_ms"] > LOAD_MS  # both versions' loads, from the spawn
    assert section["time_to_first_success_ms"] > LOAD_MS
    assert section["failed_while_cold"] > 10 and section["cold"]["k"] >= section["failed_while_cold"]
    records = pd.read_parquet(next((tmp_path / "out").glob("*/*/requests.parquet")))
    failed = records[records["error_kind"].notna()]
    assert (failed["intended_ns"] < section["ready_s"] * NS_PER_S).all()  # the only failures: start-up
    assert verdicts(summary)[("availability >= 95% in after(startup)", "after(startup)")] == "pass"
    assert verdicts(summary)[("availability >= 99% in run", "run")] == "fail"  # start-up counts from t0
    assert summary["chaos"]["faults"][0]["name"] == "startup"
    assert code == 1


def test_a_lazy_version_waits_for_its_load_beside_a_warm_pool(slow_repo, tmp_path, make_scenario) -> None:
    workload = {"phases": [
        {"duration": "3s", "arrival": {"process": "poisson", "rate": 40}},
        {"duration": "1.5s", "arrival": {"process": "idle"}},
        {"duration": "3s", "arrival": {"process": "poisson", "rate": 40}},
    ]}
    path = make_scenario(tmp_path, slow_repo, "slowload", name="lazy", workload=workload,
                         cold_start={"start": "parked", "lazy": ["2"], "idle_unload": "0.5s",
                                     "traffic": {"1": 50, "2": 50}, "steady_after": "0s"},
                         slos=["availability >= 97%", "cold_start_rate < 50%"], analysis=LAG)
    code, summary = slogate_run(path, tmp_path / "out")
    versions = {row["version"]: row for row in summary["cold_start"]["versions"]}
    assert versions["1"]["pool"] == "warm" and versions["1"]["cold"]["k"] == 0
    assert versions["2"]["pool"] == "lazy" and versions["2"]["cold"]["k"] >= 2  # parked, then idle
    assert LOAD_MS * 0.5 < versions["2"]["waits"]["max_ms"] < LOAD_MS * 2
    assert versions["2"]["penalty"]["ratio"] > 10
    records = pd.read_parquet(next((tmp_path / "out").glob("*/*/requests.parquet")))
    assert set(records.loc[records["cold_wait_ns"] >= 0, "model_version"]) == {"2"}
    assert code == 0, summary["slos"]


BASE = """\
name: cold
target:
  server: reference
  model: fraud
workload:
  phases:
    - {duration: 20s, arrival: {process: poisson, rate: 50}}
cold_start: {start: spawn}
slos:
  - availability >= 99% in after(startup)
"""


@pytest.mark.parametrize(("old", "new", "where", "says"), [
    ("  server: reference\n", "  url: http://127.0.0.1:9\n", ":8: cold_start.start:", "needs a managed target"),
    ("cold_start: {start: spawn}", "  warmup: 2s\ncold_start: {start: spawn}", ":8: workload.warmup:",
     "warm-up hides the cold start"),
    ("{start: spawn}", "{start: parked}", ":8: cold_start.lazy:", "name them"),
    ("{start: spawn}", "{start: parked, lazy: ['2']}", ":10: slos[0]:", "only start: spawn has a `startup`"),
    ("{start: spawn}", "{start: spawn, traffic: {'1': 50}}", ":8: cold_start.start:", "would not survive the spawn"),
    ("{start: spawn}", "{start: spawn, steady_after: 30s}", ":8: cold_start.steady_after:", "no steady state"),
    ("{start: spawn}", "{start: cold}", ":8: cold_start.start:", "spawn"),
    ("{start: spawn}", "{start: spawn, first_successes: 0}", ":8: cold_start.first_successes:", "greater than"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, old: str, new: str, where: str, says: str) -> None:
    assert old in BASE
    path = tmp_path / "cold.yaml"
    path.write_text(BASE.replace(old, new))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert where in message and says in message, message
