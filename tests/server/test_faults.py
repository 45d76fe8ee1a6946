"""Fault injection: every kind is observable on the request path of the matching model."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest
from server_process import ServerProcess, infer_body, metric_samples

pytestmark = pytest.mark.integration

FRAUD1 = "/v2/models/fraud/versions/1/infer"


@pytest.fixture
def faults(client: httpx.Client) -> Iterator[httpx.Client]:
    yield client
    client.delete("/admin/faults")


def add(client: httpx.Client, **fault: object) -> dict:
    r = client.post("/admin/faults", json=fault)
    assert r.status_code == 201, r.text
    return r.json()


def test_latency_fault_adds_delay_to_matching_model_only(faults: httpx.Client) -> None:
    add(faults, kind="latency", ms=300, model="fraud", version="1")
    started = time.monotonic()
    assert faults.post(FRAUD1, json=infer_body()).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    faults.post("/v2/models/fraud/versions/2/infer", json=infer_body())
    assert time.monotonic() - started < 0.3  # the other version is untouched


def test_error_fault_answers_the_configured_status(faults: httpx.Client) -> None:
    add(faults, kind="error", status=503, model="fraud")
    r = faults.post(FRAUD1, json=infer_body())
    assert r.status_code == 503 and r.json() == {"error": "injected fault", "field": None}
    assert faults.post("/v2/models/sim/infer", json=infer_body()).status_code == 200
    errors = metric_samples(faults.get("/metrics").text, "slogate_inference_errors_total",
                            model="fraud", version="1", kind="injected")
    assert errors and errors[0] >= 1


def test_nan_fault_returns_nan_outputs_with_200(faults: httpx.Client) -> None:
    add(faults, kind="nan", model="fraud")
    r = faults.post(FRAUD1, json=infer_body([[1.0] * 14, [2.0] * 14]))
    assert r.status_code == 200
    data = json.loads(r.text)["outputs"][0]["data"]  # NaN literals, as Triton writes them
    assert len(data) == 2 and all(math.isnan(v) for v in data)


def test_stall_holds_the_response_until_cleared(faults: httpx.Client, server: ServerProcess) -> None:
    fault = add(faults, kind="stall", model="fraud", version="1")
    done: list[int] = []
    waiter = threading.Thread(target=lambda: done.append(
        httpx.post(server.url + FRAUD1, json=infer_body(), timeout=30).status_code))
    waiter.start()
    waiter.join(0.6)
    assert waiter.is_alive() and not done  # held
    assert faults.delete(f"/admin/faults/{fault['id']}").json() == {"cleared": 1}
    waiter.join(10)
    assert done == [200]


def test_stall_with_ms_releases_by_itself(faults: httpx.Client) -> None:
    add(faults, kind="stall", ms=250, model="fraud", version="1")
    started = time.monotonic()
    assert faults.post(FRAUD1, json=infer_body()).status_code == 200
    assert time.monotonic() - started >= 0.25


def test_rate_zero_never_fires_and_duration_expires(faults: httpx.Client) -> None:
    add(faults, kind="error", rate=0.0)
    assert all(faults.post(FRAUD1, json=infer_body()).status_code == 200 for _ in range(20))
    add(faults, kind="error", status=500, duration_s=0.3)
    assert faults.post(FRAUD1, json=infer_body()).status_code == 500
    time.sleep(0.4)
    assert faults.post(FRAUD1, json=infer_body()).status_code == 200


def test_partial_rate_fires_sometimes(faults: httpx.Client) -> None:
    add(faults, kind="error", status=500, rate=0.5, model="fraud")
    statuses = [faults.post(FRAUD1, json=infer_body()).status_code for _ in range(60)]
    assert 0 < statuses.count(500) < 60  # both outcomes; P(all one way) ~ 1e-18


def test_memory_fault_holds_resident_memory_until_cleared(faults: httpx.Client, server: ServerProcess) -> None:
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    fault = add(faults, kind="memory", mb=128)
    held = process.memory_info().rss
    assert held - before >= 120 * 2**20  # touched pages are resident, not merely reserved
    assert faults.post(FRAUD1, json=infer_body()).status_code == 200  # requests are not affected
    assert [f["kind"] for f in faults.get("/admin/faults").json()["faults"]] == ["memory"]
    assert faults.delete(f"/admin/faults/{fault['id']}").status_code == 200
    assert held - process.memory_info().rss >= 100 * 2**20


def test_list_and_clear(faults: httpx.Client) -> None:
    a = add(faults, kind="latency", ms=1, model="nobody")
    b = add(faults, kind="nan", model="nobody", duration_s=60)
    listed = faults.get("/admin/faults").json()["faults"]
    assert {f["id"] for f in listed} == {a["id"], b["id"]}
    assert next(f for f in listed if f["id"] == b["id"])["remaining_s"] > 0
    assert faults.delete(f"/admin/faults/{a['id']}").json() == {"cleared": 1}
    assert faults.delete(f"/admin/faults/{a['id']}").status_code == 404
    assert faults.delete("/admin/faults").json() == {"cleared": 1}
    assert faults.get("/admin/faults").json() == {"faults": []}


@pytest.mark.parametrize("body", [{}, {"kind": "melt"}, {"kind": "latency"}, {"kind": "error", "rate": 2},
                                  {"kind": "error", "status": 200}, {"kind": "nan", "surprise": 1}, [1],
                                  {"kind": "memory"}, {"kind": "memory", "mb": 0}])
def test_bad_fault_bodies_are_400(faults: httpx.Client, body: object) -> None:
    r = faults.post("/admin/faults", json=body)
    assert r.status_code == 400 and set(r.json()) == {"error", "field"}
