"""The Prometheus exposition carries every series the harness and dashboards rely on."""

from __future__ import annotations

import httpx
import pytest
from server_process import infer_body, metric_samples

pytestmark = pytest.mark.integration

SERIES = [
    "slogate_request_latency_seconds_bucket", "slogate_requests_in_flight", "slogate_queue_depth",
    "slogate_batch_size_bucket", "slogate_model_load_seconds", "slogate_model_loaded",
    "slogate_inference_errors_total", "slogate_rejected_total", "slogate_cold_start_latency_seconds",
    "slogate_model_load_failures_total", "slogate_requests_total",
]


def test_metrics_exposition(client: httpx.Client) -> None:
    client.post("/v2/models/fraud/infer", json=infer_body())
    client.post("/v2/models/fraud/infer", content=b"nope")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for series in SERIES:
        assert any(line.startswith(series) for line in text.splitlines()), series
    assert metric_samples(text, "slogate_request_latency_seconds_count", model="fraud", status_class="2xx")
    assert metric_samples(text, "slogate_request_latency_seconds_count", model="fraud", status_class="4xx")
    assert 'le="0.001"' in text and 'le="0.025"' in text  # millisecond-scale buckets
    assert metric_samples(text, "slogate_model_load_seconds", model="fraud", version="2")[0] > 0
    assert metric_samples(text, "slogate_model_load_failures_total", model="fraudx", version="2") == [1.0]


def test_requests_are_counted_by_status_code(client: httpx.Client) -> None:
    """The error ratio's counter: each answer counts once under its code; the codes the server
    answers by itself exist at zero from the load, so a rate sees the first error."""
    codes = {code: sum(metric_samples(client.get("/metrics").text, "slogate_requests_total", model="fraud",
                                      code=code)) for code in ("200", "400", "500", "503")}
    statuses = [client.post("/v2/models/fraud/infer", json=infer_body()).status_code,
                client.post("/v2/models/fraud/infer", content=b"nope").status_code]
    assert statuses == [200, 400]
    text = client.get("/metrics").text
    after = {code: sum(metric_samples(text, "slogate_requests_total", model="fraud", code=code)) for code in codes}
    assert after == {**codes, "200": codes["200"] + 1, "400": codes["400"] + 1}
    for version in ("1", "2"):  # both loaded versions: present before any of their requests failed
        assert metric_samples(text, "slogate_requests_total", model="fraud", version=version, code="503")
        assert metric_samples(text, "slogate_request_latency_seconds_count", model="fraud", version=version,
                              status_class="5xx")


def test_unknown_model_names_do_not_create_series(client: httpx.Client) -> None:
    client.post("/v2/models/made-up-name/infer", json=infer_body())
    assert "made-up-name" not in client.get("/metrics").text


def test_the_serving_device_is_in_metadata_and_metrics(client: httpx.Client) -> None:
    """Where each version computes, as the backend reports it: the GPU check reads "cuda" here."""
    served = client.get("/v2/models/fraud").json()["parameters"]["served"]
    text = client.get("/metrics").text
    for version, where in served.items():
        assert where["device"] == "cpu"
        assert metric_samples(text, "slogate_model_served_on", model="fraud", version=version,
                              backend=where["backend"], device="cpu") == [1.0]
