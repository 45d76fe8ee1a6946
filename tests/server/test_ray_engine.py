"""`--engine ray`: the reference server as two Ray Serve replicas on a local Ray, over loopback.

Infer through Serve's proxy with Triton's client, the same auth, an admin call that every
replica honours (the traffic split, a fault and its id), /metrics with each replica's series,
a replica killed and replaced that replays the admin log, and a clean SIGTERM drain.
Tagged `ray`: Ray starts in ~40 s on two busy cores, so these run under `tox -e ray`.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from prometheus_client.parser import text_string_to_metric_families
from server_process import ROW, ServerProcess, infer_body
from tritonclient.utils import InferenceServerException

from reference_server.demo.sim import build_sim_model

pytestmark = [pytest.mark.ray, pytest.mark.integration]
API_KEY, ADMIN_TOKEN = "ray-test-key", "ray-test-admin"
MODEL = "sim"
REPLICAS = 2
REPLACED_WITHIN_S = 180.0  # Serve notices the death in ~3 s; the new replica imports torch and loads


@pytest.fixture(scope="module")
def sim_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three versions of a 1 ms `sim` model: built in a second, where the demo's trained fraud
    models take minutes on a busy box; what is under test is Serve and the broadcast, not torch."""
    repo = tmp_path_factory.mktemp("ray-repo")
    for version in ("1", "2", "3"):
        build_sim_model(repo / MODEL / version, {"distribution": "constant", "median_ms": 1.0, "concurrency": 64})
    return repo


@pytest.fixture(scope="module")
def ray_server(sim_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    secrets = tmp_path_factory.mktemp("ray-secrets")
    (secrets / "keys").write_text(API_KEY + "\n")
    (secrets / "admin").write_text(ADMIN_TOKEN + "\n")
    proc = ServerProcess(["--engine", "ray", "--replicas", str(REPLICAS), "--model-repo", str(sim_repo),
                          "--models", MODEL, "--api-keys", str(secrets / "keys"),
                          "--admin-token-file", str(secrets / "admin"), "--torch-threads", "1"],
                         tmp_path_factory.mktemp("ray-log") / "server.log")
    proc.start(ready_timeout_s=240, headers=api())
    try:
        wait_for(lambda: len(roster(proc)) == REPLICAS, 60, "both replicas in the roster")
        yield proc
    finally:
        code = proc.stop(timeout_s=60)
    assert code == 0, f"SIGTERM should drain Serve and exit 0, got {code}:\n{proc.log()[-3000:]}"


def api() -> dict[str, str]:
    return {"authorization": f"Bearer {API_KEY}"}


def admin() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN_TOKEN}"}


def roster(server: ServerProcess) -> list[dict]:
    return httpx.get(f"{server.url}/admin/replicas", headers=admin(), timeout=30).raise_for_status().json()["replicas"]


def wait_for(done, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if done():
                return
        except httpx.HTTPError:
            pass  # a request that reached a dying replica
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def infer_versions(server: ServerProcess, n: int) -> Counter:
    """Statuses and versions of n requests: Counter of (status, x-model-version)."""
    seen: Counter = Counter()
    with httpx.Client(base_url=server.url, headers=api(), timeout=30) as client:
        for _ in range(n):
            answer = client.post(f"/v2/models/{MODEL}/infer", json=infer_body())
            seen[(answer.status_code, answer.headers.get("x-model-version"))] += 1
    return seen


def served(server: ServerProcess) -> dict[tuple[str, str, str], float]:
    """slogate_requests_total by (replica, version, code), from the merged /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).raise_for_status().text
    counts: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "slogate_requests_total":
                counts[(s.labels["replica"], s.labels["version"], s.labels["code"])] = s.value
    return counts


def delta(after: dict, before: dict, version: str, code: str) -> dict[str, float]:
    """Per replica, what the requests between two scrapes added for one version and status."""
    return {replica: value - before.get((replica, v, c), 0.0)
            for (replica, v, c), value in after.items() if (v, c) == (version, code)}


def test_infer_goes_through_serve_with_the_same_auth(ray_server: ServerProcess):
    client = triton.InferenceServerClient(ray_server.url.removeprefix("http://"), network_timeout=30)
    rows = np.array([ROW, ROW], dtype=np.float32)
    tensor = triton.InferInput("features", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=True)
    answer = client.infer(MODEL, [tensor], headers=api())
    assert answer.as_numpy("service_ms").shape == (2, 1)
    with pytest.raises(InferenceServerException) as refused:
        client.infer(MODEL, [tensor])  # no key
    assert refused.value.status() == "401"
    wrong = httpx.put(f"{ray_server.url}/admin/models/{MODEL}/traffic", json={"1": 100}, headers=api(), timeout=30)
    assert wrong.status_code == 403  # an API key is not the admin token


def test_a_split_set_once_is_honoured_by_every_replica(ray_server: ServerProcess):
    set_split = httpx.put(f"{ray_server.url}/admin/models/{MODEL}/traffic", json={"1": 100}, headers=admin(), timeout=30)
    assert set_split.status_code == 200 and set_split.json()["traffic"]["1"] == 100.0
    before = served(ray_server)
    answers = infer_versions(ray_server, 40)
    after = served(ray_server)
    assert answers == Counter({(200, "1"): 40})
    on_v1 = delta(after, before, "1", "200")
    assert sum(on_v1.values()) == 40  # the merged /metrics counts every answer once
    assert len([r for r, added in on_v1.items() if added > 0]) == REPLICAS  # each replica served some: on v1
    for version in ("2", "3"):
        assert not any(delta(after, before, version, "200").values())


def test_a_fault_reaches_every_replica_with_one_id(ray_server: ServerProcess):
    created = httpx.post(f"{ray_server.url}/admin/faults", json={"kind": "error", "status": 503, "model": MODEL},
                         headers=admin(), timeout=30)
    assert created.status_code == 201
    fault_id = created.json()["id"]
    try:
        before = served(ray_server)
        assert infer_versions(ray_server, 30) == Counter({(503, None): 30})  # refused before a version answers
        refused = delta(served(ray_server), before, "1", "503")
        assert len([r for r, added in refused.items() if added > 0]) == REPLICAS
        listed = {tuple(f["id"] for f in httpx.get(f"{ray_server.url}/admin/faults", headers=admin(),
                                                   timeout=30).json()["faults"]) for _ in range(8)}
        assert listed == {(fault_id,)}  # whichever replica answers
    finally:
        cleared = httpx.delete(f"{ray_server.url}/admin/faults/{fault_id}", headers=admin(), timeout=30)
    assert cleared.json() == {"cleared": 1}
    assert infer_versions(ray_server, 20) == Counter({(200, "1"): 20})


def test_a_replica_serve_starts_after_a_kill_replays_the_admin_log(ray_server: ServerProcess):
    set_split = httpx.put(f"{ray_server.url}/admin/models/{MODEL}/traffic", json={"2": 100}, headers=admin(), timeout=30)
    assert set_split.status_code == 200
    lasting = httpx.post(f"{ray_server.url}/admin/faults", json={"kind": "latency", "ms": 1, "model": MODEL},
                         headers=admin(), timeout=30).json()["id"]
    members = roster(ray_server)
    victim = members[0]
    os.kill(victim["pid"], signal.SIGKILL)
    old = {m["replica"] for m in members}
    wait_for(lambda: {m["replica"] for m in roster(ray_server)} - old, REPLACED_WITHIN_S, "a replacement replica")
    newcomer = ({m["replica"] for m in roster(ray_server)} - old).pop()
    wait_for(lambda: serve_counts(ray_server)["running"] == REPLICAS, 60, "Serve counting both replicas running")
    before = served(ray_server)
    assert infer_versions(ray_server, 40) == Counter({(200, "2"): 40})
    assert delta(served(ray_server), before, "2", "200").get(newcomer, 0) > 0  # the newcomer serves the split
    listed = {tuple(f["id"] for f in httpx.get(f"{ray_server.url}/admin/faults", headers=admin(),
                                               timeout=30).json()["faults"]) for _ in range(8)}
    assert listed == {(lasting,)}
    httpx.delete(f"{ray_server.url}/admin/faults/{lasting}", headers=admin(), timeout=30)


def serve_counts(server: ServerProcess) -> dict:
    return httpx.get(f"{server.url}/admin/replicas", headers=admin(), timeout=30).raise_for_status().json()
