"""Traffic split, version pinning, and loading/unloading versions at run time."""

from __future__ import annotations

import math
import threading
from collections import Counter

import httpx
import pytest
from server_process import ServerProcess, infer_body, metric_samples, post_concurrently

pytestmark = pytest.mark.integration


@pytest.fixture
def reset_traffic(client: httpx.Client):
    yield
    client.put("/admin/models/fraud/traffic", json={"2": 100})


def test_split_proportions_are_within_binomial_tolerance(client: httpx.Client, server: ServerProcess,
                                                          reset_traffic: None) -> None:
    r = client.put("/admin/models/fraud/traffic", json={"1": 80, "2": 20})
    assert r.json() == {"model": "fraud", "traffic": {"1": 80.0, "2": 20.0, "3": 0.0}}
    assert client.get("/admin/models/fraud/traffic").json()["traffic"] == {"1": 80.0, "2": 20.0, "3": 0.0}
    n = 600
    results = post_concurrently(f"{server.url}/v2/models/fraud/infer", [infer_body()] * n, limit=16)
    versions = Counter(headers["x-model-version"] for _, headers, _ in results)
    assert all(status == 200 for status, _, _ in results)
    sd = math.sqrt(n * 0.2 * 0.8)
    assert abs(versions["2"] - 0.2 * n) < 4.5 * sd, versions  # false-alarm rate ~1e-5


def test_a_versioned_path_pins_regardless_of_split(client: httpx.Client, reset_traffic: None) -> None:
    client.put("/admin/models/fraud/traffic", json={"2": 100})
    for _ in range(5):
        assert client.post("/v2/models/fraud/versions/1/infer", json=infer_body()).headers["x-model-version"] == "1"


@pytest.mark.parametrize("weights", [{"9": 100}, {"1": -1}, {"1": 0}, {"1": "x"}, [], {}])
def test_bad_weights_are_400(client: httpx.Client, weights: object) -> None:
    r = client.put("/admin/models/fraud/traffic", json=weights)
    assert r.status_code == 400 and set(r.json()) == {"error", "field"}


def test_traffic_for_an_unknown_model_is_404(client: httpx.Client) -> None:
    assert client.put("/admin/models/nope/traffic", json={"1": 100}).status_code == 404


def test_admin_lists_models(client: httpx.Client) -> None:
    models = {m["model"]: m for m in client.get("/admin/models").json()["models"]}
    assert set(models["fraud"]["versions"]) == {"1", "2", "3"}
    assert "sha256 mismatch" in models["fraudx"]["refused"]["2"]


def test_unload_lets_in_flight_requests_finish_then_reload(client: httpx.Client, server: ServerProcess) -> None:
    # Hold requests to fraud/1 in flight with a latency fault, unload it meanwhile.
    fault = client.post("/admin/faults", json={"kind": "latency", "ms": 800, "model": "fraud", "version": "1"}).json()
    results: list[tuple[int, dict[str, str], bytes]] = []
    senders = threading.Thread(target=lambda: results.extend(
        post_concurrently(f"{server.url}/v2/models/fraud/versions/1/infer", [infer_body()] * 8)))
    senders.start()
    try:
        _wait_until_in_flight(client, "fraud", "1", 8)
        unloaded = client.post("/admin/models/fraud/versions/1/unload")
        assert unloaded.json() == {"model": "fraud", "version": "1", "state": "unloaded"}
        senders.join()
        assert [status for status, _, _ in results] == [200] * 8
        assert all(h["x-model-version"] == "1" for _, h, _ in results)
        assert client.post("/v2/models/fraud/versions/1/infer", json=infer_body()).status_code == 404
        assert client.get("/v2/models/fraud").json()["versions"] == ["2", "3"]
        assert not metric_samples(client.get("/metrics").text, "slogate_model_served_on", model="fraud", version="1")
        assert client.post("/admin/models/fraud/versions/1/unload").status_code == 404
    finally:
        client.delete(f"/admin/faults/{fault['id']}")
        senders.join()
        loaded = client.post("/admin/models/fraud/versions/1/load")
    assert loaded.status_code == 200 and loaded.json()["state"] == "ready" and loaded.json()["load_seconds"] > 0
    assert client.post("/v2/models/fraud/versions/1/infer", json=infer_body()).status_code == 200
    assert client.get("/v2/models/fraud").json()["parameters"]["traffic"] == {"1": 0.0, "2": 100.0, "3": 0.0}


def _wait_until_in_flight(client: httpx.Client, model: str, version: str, n: int) -> None:
    for _ in range(200):
        info = client.get("/admin/models").json()["models"]
        entry = next(m for m in info if m["model"] == model)
        if entry["versions"][version]["in_flight"] >= n:
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"{model}/{version} never had {n} requests in flight")


def test_loading_a_missing_or_tampered_version_fails_cleanly(client: httpx.Client) -> None:
    assert client.post("/admin/models/fraud/versions/7/load").status_code == 404
    assert client.post("/admin/models/..%2F..%2Fetc/versions/1/load").status_code in (400, 404)
    tampered = client.post("/admin/models/fraudx/versions/2/load")
    assert tampered.status_code == 422 and "sha256 mismatch" in tampered.json()["error"]
    assert client.post("/v2/models/fraudx/infer", json=infer_body()).status_code == 200
