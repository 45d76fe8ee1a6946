"""A request whose client hangs up before its answer is dropped, not computed.

After a stall, requests whose clients have timed out would otherwise be computed one by one
ahead of those still waiting. A 1 s latency fault holds a request before the model runs; its
client gives up after 0.2 s. The model must never run it, and /metrics counts it as 499.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from server_process import ServerProcess, infer_body, metric_samples

pytestmark = pytest.mark.integration

FRAUD1 = "/v2/models/fraud/versions/1/infer"


@pytest.fixture
def held(client: httpx.Client) -> Iterator[httpx.Client]:
    r = client.post("/admin/faults", json={"kind": "latency", "ms": 1000, "model": "fraud", "version": "1"})
    assert r.status_code == 201, r.text
    yield client
    client.delete("/admin/faults")


def fraud1(client: httpx.Client, name: str, **labels: str) -> float:
    return sum(metric_samples(client.get("/metrics").text, name, model="fraud", version="1", **labels))


def test_a_request_whose_client_left_is_never_computed_and_counts_as_499(
        held: httpx.Client, server: ServerProcess) -> None:
    batches, abandoned = fraud1(held, "slogate_batch_size_count"), fraud1(held, "slogate_requests_total", code="499")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + FRAUD1, json=infer_body(), timeout=0.2)
    deadline = time.monotonic() + 15  # the fault holds it 1 s; a busy box may take longer to get there
    while fraud1(held, "slogate_requests_total", code="499") < abandoned + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fraud1(held, "slogate_requests_total", code="499") == abandoned + 1
    assert fraud1(held, "slogate_batch_size_count") == batches  # the model never ran it


def test_a_client_that_waits_is_answered_through_the_same_check(held: httpx.Client) -> None:
    batches = fraud1(held, "slogate_batch_size_count")
    r = held.post(FRAUD1, json=infer_body(), timeout=10)
    assert r.status_code == 200 and r.json()["outputs"]
    assert fraud1(held, "slogate_batch_size_count") == batches + 1
