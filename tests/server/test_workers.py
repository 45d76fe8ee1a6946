"""--workers 2: an admin change made through one worker holds in both, and /metrics adds both up.

The real server over loopback. Each request goes on a fresh connection, so the kernel hands
them to both workers (they accept on one shared socket); each worker's own exposition (the
Unix socket the scraped worker reads it from) shows that both answered and what each did.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_process import ServerProcess, infer_body

from reference_server.demo.sim import build_sim_model
from reference_server.workers_dir import SOCKETS
from tests.harness.prometheus_support import need_binary

REQUESTS = 300


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """canary/1, canary/2 serving; extra/1 on disk, not loaded. The supervisor's directory lands
    in a short TMPDIR of its own (Unix socket paths are limited to ~100 bytes)."""
    repo = tmp_path_factory.mktemp("repo")
    for model, version in (("canary", "1"), ("canary", "2"), ("extra", "1")):
        build_sim_model(repo / model / version, {"distribution": "constant", "median_ms": 1.0, "concurrency": 64})
    with tempfile.TemporaryDirectory(prefix="w", dir="/tmp") as tmp:
        server = ServerProcess(["--model-repo", str(repo), "--workers", "2", "--models", "canary"],
                               tmp_path_factory.mktemp("log") / "server.log", env={"TMPDIR": tmp})
        server.start()
        try:
            deadline = time.monotonic() + 60  # ready answers once one worker is up
            while server.log().count("slogate reference server ready") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            yield server, next(Path(tmp).glob(f"slogate-workers-*/{SOCKETS}"))
        finally:
            assert server.stop() == 0  # SIGTERM: both workers drain and the supervisor exits cleanly
        log = server.log()
        assert log.count("slogate reference server ready") == log.count("Started server process")  # each worker


def fresh_connections(server: ServerProcess, model: str, n: int = REQUESTS) -> Counter[tuple[int, str | None]]:
    """(status, x-model-version) of `n` requests, each on a connection of its own."""
    answers: Counter[tuple[int, str | None]] = Counter()
    with httpx.Client(base_url=server.url, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(n):
            r = client.post(f"/v2/models/{model}/infer", json=infer_body())
            answers[(r.status_code, r.headers.get("x-model-version"))] += 1
    return answers


def each_worker(sockets: Path) -> list[dict[tuple[str, str, str], float]]:
    """Every worker's own slogate_requests_total, by (model, version, code)."""
    workers = []
    for path in sorted(sockets.glob("*.sock")):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))
            text = b"".join(iter(lambda s=sock: s.recv(65536), b"")).decode()
        workers.append(requests_total(text))
    return workers


def requests_total(text: str) -> dict[tuple[str, str, str], float]:
    family = next(f for f in text_string_to_metric_families(text) if f.name == "slogate_requests")
    return {(s.labels["model"], s.labels["version"], s.labels["code"]): s.value for s in family.samples}


def test_a_split_set_through_one_worker_holds_in_both(two_workers: tuple[ServerProcess, Path]) -> None:
    server, sockets = two_workers
    before = each_worker(sockets)
    r = httpx.put(server.url + "/admin/models/canary/traffic", json={"1": 50, "2": 50})
    assert r.status_code == 200 and r.json()["traffic"] == {"1": 50.0, "2": 50.0}
    answers = fresh_connections(server, "canary")
    assert set(answers) == {(200, "1"), (200, "2")}
    after = each_worker(sockets)
    assert len(after) == 2
    for was, now in zip(before, after):  # each worker split its own share: both versions got a fair part
        served = {v: now.get(("canary", v, "200"), 0) - was.get(("canary", v, "200"), 0) for v in ("1", "2")}
        assert min(served.values()) > 0.25 * sum(served.values()) > 0, served


def test_a_fault_added_and_cleared_through_one_worker_applies_in_both(two_workers: tuple[ServerProcess, Path]) -> None:
    server, _ = two_workers
    fault = httpx.post(server.url + "/admin/faults", json={"kind": "error", "status": 503, "model": "canary"}).json()
    listed = {tuple(f["id"] for f in httpx.get(server.url + "/admin/faults").json()["faults"]) for _ in range(20)}
    assert listed == {(fault["id"],)}  # every worker lists the one fault, by the same id
    assert {status for status, _ in fresh_connections(server, "canary", 100)} == {503}
    assert httpx.delete(f"{server.url}/admin/faults/{fault['id']}").json() == {"cleared": 1}
    assert {status for status, _ in fresh_connections(server, "canary", 100)} == {200}


def test_a_model_loaded_and_unloaded_through_one_worker_is_so_in_both(two_workers: tuple[ServerProcess, Path]) -> None:
    server, sockets = two_workers
    assert httpx.post(server.url + "/v2/repository/models/extra/load").status_code == 200
    assert fresh_connections(server, "extra", 100) == {(200, "1"): 100}
    assert all(worker.get(("extra", "1", "200"), 0) > 0 for worker in each_worker(sockets))  # both served it
    assert httpx.post(server.url + "/admin/models/extra/versions/1/unload").status_code == 200
    assert {status for status, _ in fresh_connections(server, "extra", 100)} == {503}  # no version loaded


def test_metrics_add_up_across_workers(two_workers: tuple[ServerProcess, Path]) -> None:
    server, sockets = two_workers
    before = sum(requests_total(httpx.get(server.url + "/metrics").text).values())
    fresh_connections(server, "canary", 100)
    page = httpx.get(server.url + "/metrics").content
    workers = [sum(worker.values()) for worker in each_worker(sockets)]
    after = sum(requests_total(page.decode()).values())
    assert after - before == 100  # every request sent counted once, whichever worker answered it
    assert after == sum(workers) and min(workers) > 0
    lint = subprocess.run([need_binary("promtool"), "check", "metrics"], input=page, capture_output=True, timeout=60,
                          check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr  # the merged page is a well-formed exposition


def test_a_worker_restarted_after_a_crash_replays_the_changes_made_before_it(
        two_workers: tuple[ServerProcess, Path]) -> None:
    server, sockets = two_workers
    # Not the split a worker starts with (the latest version takes all): only a replay gives it.
    assert httpx.put(server.url + "/admin/models/canary/traffic", json={"1": 100}).status_code == 200
    fault = httpx.post(server.url + "/admin/faults", json={"kind": "latency", "ms": 1, "model": "canary"}).json()
    crashed = int(min(sockets.glob("*.sock")).stem)
    os.kill(crashed, signal.SIGKILL)  # uvicorn's supervisor starts another worker, which replays the journal
    deadline = time.monotonic() + 60
    while server.log().count("slogate reference server ready") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    httpx.get(server.url + "/metrics")  # a scrape drops the dead worker's socket
    assert crashed not in {int(path.stem) for path in sockets.glob("*.sock")}
    before = each_worker(sockets)
    assert fresh_connections(server, "canary", 100) == {(200, "1"): 100}
    assert all(now.get(("canary", "1", "200"), 0) > was.get(("canary", "1", "200"), 0)
               for was, now in zip(before, each_worker(sockets)))  # the new worker served its share, on v1
    assert {tuple(f["id"] for f in httpx.get(server.url + "/admin/faults").json()["faults"])
            for _ in range(20)} == {(fault["id"],)}
