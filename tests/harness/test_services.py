"""Auxiliary services (`services:`): their mistakes are load-time errors naming file, line and
field, and a real redis-server is started seeded, restarted and seeded again after a kill,
frozen by a pause, and leaves nothing behind when stopped."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis

from harness.scenario.loader import ScenarioError, load_scenario
from harness.targets.managed import reference_server
from harness.targets.services import Service

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")

BASE = """\
name: store
services:
  - {name: features, kind: redis, seed: {file: cards.csv, key: card_id, prefix: "card:"}}
target:
  server: reference
  model: fraud-online
  server_args: [--feature-store, "${features}"]
workload:
  phases:
    - {duration: 5s, arrival: {process: poisson, rate: 20}}
faults:
  - {action: kill, service: features, at: 2s, name: store_killed}
"""
CARDS = "card_id,avg_amount_30d,txn_count_24h\n0,12.5,3\n1,40,0\n"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "cards.csv").write_text(CARDS)
    path = tmp_path / "store.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("old", "new", "where", "says"), [
    ("service: features, at", "service: featurs, at", ":12: faults[0].service:", "did you mean 'features'"),
    ('"${features}"', '"${store}"', ":7: target.server_args[1]:", "${store} names no service (declared: features)"),
    ("kind: redis,", "kind: redis, binary: no-such-redis-server,", ":3: services[0].binary:",
     "no-such-redis-server is not on PATH"),
    ("key: card_id", "key: card", ":3: services[0].seed:", "'card' is no column of cards.csv"),
    ("kind: redis,", "kind: redsi,", ":3: services[0].kind:", "did you mean 'redis'"),
    ("  server: reference\n", "  url: http://127.0.0.1:9\n", ":3: services:", "an external `url:` target"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, old: str, new: str, where: str, says: str) -> None:
    assert old in BASE
    load_scenario(write(tmp_path, BASE))  # the base itself is fine
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, BASE.replace(old, new)))
    assert where in str(error.value) and says in str(error.value), str(error.value)


def test_a_service_error_exits_2_before_any_server_starts(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("service: features, at", "service: nothing, at"))
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--out", str(tmp_path / "out")],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "store.yaml:12: faults[0].service: no service named 'nothing'" in done.stderr
    assert not (tmp_path / "out").exists()  # the run directory comes before any process: none was started


def test_the_server_is_given_each_service_address(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, BASE))
    server = reference_server(scenario.target, tmp_path / "server.log", scenario.services)
    store = server.services["features"]
    assert store.address == f"redis://127.0.0.1:{store.port}"
    assert server.command[server.command.index("--feature-store") + 1] == store.address


def test_a_killed_store_comes_back_seeded_and_a_stopped_one_leaves_nothing(tmp_path: Path) -> None:
    text = BASE.replace("kind: redis,", "kind: redis, restart: always, restart_backoff: 0.1s,")
    spec = load_scenario(write(tmp_path, text)).services[0]

    async def scenario() -> None:
        store = Service(spec, tmp_path / "features.log")
        await store.start()
        client = redis.Redis(port=store.port, socket_timeout=0.5)
        assert client.hgetall("card:1") == {b"avg_amount_30d": b"40", b"txn_count_24h": b"0"}
        workdir, first = Path(store._workdir.name), store.process.pid
        store.send_signal(signal.SIGKILL)
        await asyncio.wait_for(store.ready_after(1), 5)
        assert store.generation == 2 and store.process.pid != first and client.dbsize() == 2  # empty, seeded again
        store.pause()
        with pytest.raises(redis.TimeoutError):
            client.ping()  # frozen: the connection hangs, nothing refuses it
        store.resume()
        assert redis.Redis(port=store.port).ping()
        pid = store.process.pid
        await store.stop()
        assert not psutil.pid_exists(pid) and not workdir.exists()

    asyncio.run(scenario())


def test_ctrl_c_mid_run_stops_the_services_too(sim_repo: Path, tmp_path: Path, make_scenario) -> None:
    (tmp_path / "cards.csv").write_text(CARDS)
    path = make_scenario(tmp_path, sim_repo, "const10", name="interrupted-store",
                         services=[{"name": "features", "kind": "redis",
                                    "seed": {"file": "cards.csv", "key": "card_id"}}],
                         workload={"phases": [{"duration": "60s", "arrival": {"process": "poisson", "rate": 20}}]},
                         faults=[{"action": "pause", "service": "features", "at": "2s", "for": "50s"}])
    run = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--out", str(tmp_path / "out")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    harness = psutil.Process(run.pid)
    deadline = time.monotonic() + 60
    while not any("harness.telemetry" in " ".join(c.cmdline()) for c in harness.children()):
        assert time.monotonic() < deadline and run.poll() is None, "the run never started its load"
        time.sleep(0.2)  # the sampler starts once the server and its store are up
    children = harness.children(recursive=True)
    assert any("redis-server" in " ".join(child.cmdline()) for child in children)
    time.sleep(4.0)  # into the pause: the store is frozen when the run is stopped
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 3, stderr[-2000:]
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
