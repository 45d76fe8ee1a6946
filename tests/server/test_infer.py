"""Inference over OIP v2: routing headers, versions, backends, tensor layouts."""

from __future__ import annotations

import math

import httpx
import pytest
from server_process import ROW, infer_body, metric_samples

pytestmark = pytest.mark.integration

RISKY = [950.0, 3, 0.9, 12, 400.0, 9, 40.0, 23.75, 4, 0, 1, 1, 0, 0]


def probabilities(response: httpx.Response) -> list[float]:
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["name"] == "fraud_probability" and output["datatype"] == "FP32"
    return output["data"]


def test_infer_reports_the_answering_version(client: httpx.Client) -> None:
    r = client.post("/v2/models/fraud/infer", json=infer_body())
    body = r.json()
    assert r.headers["x-model-version"] == body["model_version"] == "2"
    assert body["model_name"] == "fraud" and isinstance(body["id"], str)
    assert body["outputs"][0]["shape"] == [1, 1]


def test_request_id_is_echoed(client: httpx.Client) -> None:
    assert client.post("/v2/models/fraud/infer", json={**infer_body(), "id": "abc-1"}).json()["id"] == "abc-1"


def test_versions_differ_in_outputs_and_score_risk(client: httpx.Client) -> None:
    body = infer_body([ROW, RISKY])
    v1 = probabilities(client.post("/v2/models/fraud/versions/1/infer", json=body))
    v2 = probabilities(client.post("/v2/models/fraud/versions/2/infer", json=body))
    assert all(0.0 <= p <= 1.0 for p in v1 + v2)
    assert v1[1] > v1[0] and v2[1] > v2[0]  # both learned that the risky row is riskier
    assert v1 != v2


def test_nested_and_flat_data_agree(client: httpx.Client) -> None:
    flat = client.post("/v2/models/fraud/versions/1/infer", json=infer_body([ROW, RISKY])).json()
    nested = infer_body([ROW, RISKY])
    nested["inputs"][0]["data"] = [ROW, RISKY]
    assert client.post("/v2/models/fraud/versions/1/infer", json=nested).json()["outputs"] == flat["outputs"]


def test_torchscript_backend_matches_the_same_weights(client: httpx.Client) -> None:
    body = infer_body([ROW, RISKY])
    torchscript = probabilities(client.post("/v2/models/fraudts/infer", json=body))
    mlp = probabilities(client.post("/v2/models/fraud/versions/1/infer", json=body))
    assert torchscript == pytest.approx(mlp, abs=1e-6)


def test_a_model_failure_is_a_500_and_the_batcher_survives(client: httpx.Client) -> None:
    bad_row = [-5.0] + ROW[1:]
    failed = client.post("/v2/models/exploding/infer", json=infer_body([bad_row]))
    assert failed.status_code == 500 and failed.json() == {"error": "inference failed", "field": None}
    assert client.post("/v2/models/exploding/infer", json=infer_body()).status_code == 200
    errors = metric_samples(client.get("/metrics").text, "slogate_inference_errors_total",
                            model="exploding", kind="model")
    assert errors == [1.0]


def test_sim_accepts_any_oip_input(client: httpx.Client) -> None:
    body = {"inputs": [{"name": "anything", "datatype": "BYTES", "shape": [3], "data": ["a", "b", "c"]}]}
    r = client.post("/v2/models/sim/infer", json=body)
    assert r.status_code == 200 and r.headers["x-model-version"] == "1"
    (output,) = r.json()["outputs"]
    assert output["name"] == "service_ms" and output["data"] == [10.0, 10.0, 10.0]


def test_first_request_after_load_is_recorded_as_cold_start(client: httpx.Client) -> None:
    client.post("/v2/models/fraud/versions/1/infer", json=infer_body())
    text = client.get("/metrics").text
    cold = [line for line in text.splitlines()
            if line.startswith('slogate_cold_start_latency_seconds{model="fraud",version="1"}')]
    assert cold and math.isfinite(float(cold[0].split()[-1])) and float(cold[0].split()[-1]) > 0
