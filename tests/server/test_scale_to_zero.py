"""Scale to zero and back on a real server: on-demand versions, idle unloads, the admin calls,
and requests that wait for a load instead of failing."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import ServerProcess, infer_body, metric_samples

from reference_server.demo.sim import build_sim_model
from reference_server.repository import SPEC_FILE

pytestmark = pytest.mark.integration
LOAD_MS = 600


def _set_scaling(version_dir: Path, **scaling: object) -> None:
    spec = json.loads((version_dir / SPEC_FILE).read_text())
    spec["scaling"] = scaling
    (version_dir / SPEC_FILE).write_text(json.dumps(spec))


@pytest.fixture(scope="module")
def lazy_server(demo_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """fraud/1 warm, fraud/2 on demand; lazysim/1 on demand with a 600 ms load and a 0.3 s wait bound."""
    repo = tmp_path_factory.mktemp("lazy") / "models"
    for version in ("1", "2"):
        shutil.copytree(demo_repo / "fraud" / version, repo / "fraud" / version)
    _set_scaling(repo / "fraud" / "2", on_demand=True)
    build_sim_model(repo / "lazysim" / "1", {"distribution": "constant", "median_ms": 5, "load_ms": LOAD_MS})
    _set_scaling(repo / "lazysim" / "1", on_demand=True, load_timeout_s=0.3)
    proc = ServerProcess(["--model-repo", str(repo)], tmp_path_factory.mktemp("logs") / "server.log").start()
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.fixture
def http(lazy_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lazy_server.url, timeout=30) as client:
        yield client


def _states(http: httpx.Client, model: str) -> dict[str, str]:
    models = {m["model"]: m for m in http.get("/admin/models").json()["models"]}
    return {version: info["state"] for version, info in models[model]["versions"].items()}


def _infer(http: httpx.Client, model: str, version: str) -> httpx.Response:
    return http.post(f"/v2/models/{model}/versions/{version}/infer", json=infer_body())


def test_an_on_demand_version_starts_at_zero_yet_is_described_and_ready(http: httpx.Client) -> None:
    assert _states(http, "fraud")["2"] == "scaled_to_zero"
    metadata = http.get("/v2/models/fraud").json()
    assert metadata["versions"] == ["1", "2"]
    assert metadata["parameters"]["scaled_to_zero"] == ["2"]
    assert len(metadata["parameters"]["feature_names"]) == 14  # described from model.json, unloaded
    ready = http.get("/v2/models/fraud/versions/2/ready")
    assert ready.status_code == 200 and ready.json()["scaled_to_zero"] is True
    drift = http.get("/v2/models/fraud/versions/2/drift")  # no window until it loads; waiting would not help
    assert drift.status_code == 404 and drift.json()["field"] == "version"


def test_the_first_request_waits_for_the_load_and_says_so(http: httpx.Client, lazy_server: ServerProcess) -> None:
    http.post("/admin/models/fraud/versions/2/park")
    cold = _infer(http, "fraud", "2")
    warm = _infer(http, "fraud", "2")
    assert cold.status_code == warm.status_code == 200
    assert cold.headers["x-model-version"] == "2" and float(cold.headers["x-cold-start"]) > 0
    assert "x-cold-start" not in warm.headers
    assert _states(http, "fraud")["2"] == "ready"
    assert metric_samples(http.get("/metrics").text, "slogate_cold_requests_total", model="fraud", version="2")[0] >= 1


async def _concurrent_cold_requests(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await asyncio.gather(*(client.post("/v2/models/fraud/versions/2/infer", json=infer_body())
                                      for _ in range(count)))


def test_requests_meeting_one_load_share_it(http: httpx.Client, lazy_server: ServerProcess) -> None:
    http.post("/admin/models/fraud/versions/2/park")
    before = metric_samples(http.get("/metrics").text, "slogate_cold_requests_total", model="fraud", version="2")[0]
    loads_before = lazy_server.log().count("loaded fraud/2 ")
    responses = asyncio.run(_concurrent_cold_requests(lazy_server.url, 8))
    assert [r.status_code for r in responses] == [200] * 8
    waited = sum("x-cold-start" in r.headers for r in responses)
    assert waited >= 1
    after = metric_samples(http.get("/metrics").text, "slogate_cold_requests_total", model="fraud", version="2")[0]
    assert after - before == waited
    assert lazy_server.log().count("loaded fraud/2 ") == loads_before + 1


def test_an_idle_version_scales_to_zero_and_back(http: httpx.Client) -> None:
    assert _infer(http, "fraud", "2").status_code == 200
    assert http.put("/admin/models/fraud/versions/2/scaling", json={"idle_unload_s": 0.3}).status_code == 200
    deadline = time.monotonic() + 5
    while _states(http, "fraud")["2"] != "scaled_to_zero" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _states(http, "fraud")["2"] == "scaled_to_zero"
    assert _states(http, "fraud")["1"] == "ready"  # no idle time: the warm pool stays
    assert http.put("/admin/models/fraud/versions/2/scaling", json={"idle_unload_s": None}).status_code == 200
    assert "x-cold-start" in _infer(http, "fraud", "2").headers


def test_a_load_longer_than_the_wait_bound_answers_503_and_goes_on(http: httpx.Client) -> None:
    started = time.monotonic()
    first = _infer(http, "lazysim", "1")
    assert first.status_code == 503 and first.headers["retry-after"] == "1"
    assert first.json()["field"] == "version" and "still loading" in first.json()["error"]
    assert time.monotonic() - started < LOAD_MS / 1000
    time.sleep(LOAD_MS / 1000)
    assert _infer(http, "lazysim", "1").status_code == 200  # the load went on without it


@pytest.mark.parametrize("body", [{"idle_unload_s": 0}, {"idle_unload_s": "2"}, {"idle_unload_s": True}, {}, [1]])
def test_bad_scaling_bodies_name_the_field(http: httpx.Client, body: object) -> None:
    response = http.put("/admin/models/fraud/versions/1/scaling", json=body)
    assert response.status_code == 400 and response.json()["field"] == "idle_unload_s"


def test_parking_a_version_already_scaled_to_zero_keeps_it_so(http: httpx.Client) -> None:
    for _ in range(2):
        response = http.post("/admin/models/lazysim/versions/1/park")
        assert response.status_code == 200 and response.json()["state"] == "scaled_to_zero"
    assert _states(http, "lazysim")["1"] == "scaled_to_zero"


def test_scaling_an_unknown_version_is_404(http: httpx.Client) -> None:
    assert http.put("/admin/models/fraud/versions/9/scaling", json={"idle_unload_s": 1}).status_code == 404
    assert http.post("/admin/models/fraud/versions/9/park").status_code == 404


def test_a_slow_load_fault_slows_the_next_wake_by_its_ms(http: httpx.Client) -> None:
    refused = http.post("/admin/faults", json={"kind": "slow_load"})
    assert refused.status_code == 400 and "slow_load faults need ms" in refused.json()["error"]
    fault = http.post("/admin/faults", json={"kind": "slow_load", "model": "fraud", "version": "2", "ms": 700}).json()
    try:
        http.post("/admin/models/fraud/versions/2/park")
        warm = _infer(http, "fraud", "1")  # a slow fetch touches loads only: the warm pool answers at once
        cold = _infer(http, "fraud", "2")
    finally:
        http.delete(f"/admin/faults/{fault['id']}")
    assert "x-cold-start" not in warm.headers
    assert 0.7 <= float(cold.headers["x-cold-start"]) < 5
    assert http.get("/admin/faults").json()["faults"] == []
