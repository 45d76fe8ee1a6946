"""`engine: locust` with workers that join from elsewhere (`slogate locust-worker HOST:PORT`).

"Elsewhere" here is a time namespace of its own (`unshare --time --monotonic`): the workers'
CLOCK_MONOTONIC runs 100,000 s ahead of the runner's, as another machine's would differ. Each
must measure that offset against the master and send at the runner's intended times; taken
as it is, the runner's t0 would lie 100,000 s in their past and every request would go at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.entry.eventloop import run as run_loop
from harness.scenario.loader import ScenarioError, load_scenario
from harness.session.runner import execute
from harness.targets.supervised import free_port

pytestmark = pytest.mark.integration

AHEAD_S = 100_000
RATE, DURATION_S, SERVICE_MS = 50, 3, 20


def _workers(port: int, log: Path) -> list[subprocess.Popen]:
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is part of every Debian system"
    command = [unshare, "--time", "--monotonic", str(AHEAD_S), "--fork",
               sys.executable, "-m", "harness", "locust-worker", f"127.0.0.1:{port}"]
    with log.open("ab") as out:
        return [subprocess.Popen(command, stdout=out, stderr=out) for _ in range(2)]


def test_workers_on_another_clock_send_at_the_runners_intended_times(sim_repo, tmp_path, make_scenario) -> None:
    port = free_port()
    path = make_scenario(tmp_path, sim_repo, "const20", name="remote-locust",
                         analysis={"max_lag_p99": "50ms"},  # this shared box stalls; the clock is what is under test
                         workload={"phases": [{"duration": f"{DURATION_S}s",
                                               "arrival": {"process": "constant", "rate": RATE}}],
                                   "engine": "locust", "procs": 2,
                                   "locust": {"bind": f"127.0.0.1:{port}", "local_workers": 0, "join_timeout": "60s"}})
    workers = _workers(port, tmp_path / "workers.log")
    try:
        result = run_loop(execute(load_scenario(path), tmp_path / "out"))
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(10)
    load = result.summary["load"]
    assert load["valid"], (load["invalid_reasons"], (tmp_path / "workers.log").read_text()[-3000:])
    records = pd.read_parquet(result.run_dir / "requests.parquet")
    assert len(records) == RATE * DURATION_S and records["payload_id"].is_unique
    for shard in load["shards"]:
        assert abs(shard["clock_offset_ms"] + AHEAD_S * 1000) < shard["clock_uncertainty_ms"] + 1000
        assert 0 < shard["clock_uncertainty_ms"] < 50
    # from the intended time: a clock wrong by more than the service time would show here
    low, high = result.summary["latency_ci_ms"]["p50"]
    assert SERVICE_MS <= low and high < SERVICE_MS + 50


@pytest.mark.parametrize(("locust", "extra", "says"), [
    ({"local_workers": 3}, {}, "locust.local_workers: 3 is more than the 2 workers"),
    ({"local_workers": 1}, {}, "locust.bind: workers on other machines need a fixed port"),
    ({"bind": "0.0.0.0:5557"}, {"engine": "slogate"}, "the master's settings need `engine: locust`"),
    ({"bind": "5557"}, {}, "workload.locust.bind:"),
])
def test_master_settings_mistakes_name_the_field(tmp_path, make_scenario, locust, extra, says) -> None:
    path = make_scenario(tmp_path, None, "fraud", name="bad-locust",
                         workload={"phases": [{"duration": "2s", "arrival": {"process": "constant", "rate": 5}}],
                                   "engine": "locust", "procs": 2, "locust": locust, **extra})
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert f"{path}:" in str(error.value) and says in str(error.value)
