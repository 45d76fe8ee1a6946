"""Health, readiness and metadata routes of the OIP v2 surface."""

from __future__ import annotations

import httpx
import pytest
import torch

from reference_server.demo.synthetic_fraud import FEATURES

pytestmark = pytest.mark.integration


def test_live_and_ready(client: httpx.Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}


def test_server_metadata(client: httpx.Client) -> None:
    body = client.get("/v2").json()
    assert body["name"] == "slogate-reference" and "version" in body


def test_model_metadata_carries_baseline_and_feature_names(client: httpx.Client) -> None:
    body = client.get("/v2/models/fraud").json()
    assert body["name"] == "fraud" and body["versions"] == ["1", "2", "3"]
    assert body["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 14]}]
    assert body["outputs"][0]["name"] == "fraud_probability"
    params = body["parameters"]
    assert params["feature_names"] == FEATURES and len(FEATURES) >= 12
    stats = params["baseline"]["features"]
    assert set(stats) == set(FEATURES)
    amount = stats["amount"]
    assert amount["kind"] == "continuous" and len(amount["quantiles"]) == 101
    assert amount["quantiles"] == sorted(amount["quantiles"]) and amount["std"] > 0
    assert stats["channel_web"]["kind"] == "binary" and 0 < stats["channel_web"]["mean"] < 1
    assert params["traffic"] == {"1": 0.0, "2": 100.0, "3": 0.0}  # fraud/traffic.json: 3 is a staged canary
    assert set(params["load_seconds"]) == {"1", "2", "3"}


def test_metadata_says_what_serves_each_loaded_version(client: httpx.Client) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"  # the server runs with --device auto
    fraud = client.get("/v2/models/fraud").json()["parameters"]["served"]
    assert fraud == {v: {"backend": "torch", "requested_backend": "torch", "device": device} for v in ("1", "2", "3")}
    twin = client.get("/v2/models/fraudts/versions/1").json()["parameters"]["served"]
    assert twin == {"1": {"backend": "torchscript", "requested_backend": "torchscript", "device": device}}
    sim = client.get("/v2/models/sim").json()["parameters"]["served"]
    assert sim == {"1": {"backend": "sim", "requested_backend": "sim", "device": "cpu"}}
    refused = client.get("/v2/models/fraudx").json()["parameters"]["served"]
    assert set(refused) == {"1"}  # fraudx/2 was refused at load: nothing serves it


def test_versioned_metadata(client: httpx.Client) -> None:
    body = client.get("/v2/models/fraud/versions/1").json()
    assert body["versions"] == ["1"]
    assert client.get("/v2/models/fraud/versions/9").status_code == 404


def test_model_and_version_readiness(client: httpx.Client) -> None:
    assert client.get("/v2/models/fraud/ready").json()["ready"] is True
    assert client.get("/v2/models/fraud/versions/2/ready").json() == {"name": "fraud", "version": "2", "ready": True}
    assert client.get("/v2/models/sim/ready").status_code == 200


def test_unknown_model_and_route(client: httpx.Client) -> None:
    for path in ("/v2/models/nope", "/v2/models/nope/ready", "/nope", "/v2/what/is/this"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert set(r.json()) == {"error", "field"}
    assert client.post("/v2/models/nope/infer", json={"inputs": []}).status_code in (400, 404)


def test_wrong_method_is_405(client: httpx.Client) -> None:
    r = client.get("/v2/models/fraud/infer")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert client.post("/v2/health/ready").status_code == 405


def test_tampered_artifact_is_refused_while_other_versions_serve(client: httpx.Client, server) -> None:
    assert client.get("/v2/models/fraudx").json()["versions"] == ["1"]
    refused = client.get("/v2/models/fraudx/versions/2/ready")
    assert refused.status_code == 503 and "sha256 mismatch" in refused.json()["error"]
    assert client.post("/v2/models/fraudx/versions/2/infer", json={}).status_code in (400, 404)
    ok = client.post("/v2/models/fraudx/infer", json={"inputs": [{"name": "features", "datatype": "FP32",
                                                                   "shape": [1, 14], "data": [1.0] * 14}]})
    assert ok.status_code == 200 and ok.headers["x-model-version"] == "1"
    assert "REFUSED fraudx/2" in server.log() and "sha256 mismatch" in server.log()
