"""Dynamic batching under concurrency, and 429 + Retry-After when a queue is full."""

from __future__ import annotations

import time

import httpx
import pytest
from server_process import ServerProcess, infer_body, metric_samples, post_concurrently

pytestmark = pytest.mark.integration


def batches(client: httpx.Client, model: str, version: str) -> tuple[float, float]:
    """(batches executed, rows in them) for a model version."""
    text = client.get("/metrics").text
    count = metric_samples(text, "slogate_batch_size_count", model=model, version=version)
    total = metric_samples(text, "slogate_batch_size_sum", model=model, version=version)
    return count[0], total[0]


@pytest.mark.parametrize("version", ["1", "2"])  # 1: take what has arrived; 2: wait up to 2 ms
def test_concurrent_requests_share_batches(client: httpx.Client, server: ServerProcess, version: str) -> None:
    before = batches(client, "fraud", version)
    url = f"{server.url}/v2/models/fraud/versions/{version}/infer"
    results = post_concurrently(url, [infer_body()] * 200, limit=64)
    assert [r[0] for r in results] == [200] * 200
    after = batches(client, "fraud", version)
    n_batches, rows = after[0] - before[0], after[1] - before[1]
    assert rows == 200
    assert n_batches < rows  # at least one batch held more than one request
    text = client.get("/metrics").text
    single = metric_samples(text, "slogate_batch_size_bucket", model="fraud", version=version, le="1.0")[0]
    assert single < after[0]


def test_a_flood_on_a_tiny_queue_gets_429_with_retry_after(client: httpx.Client, server: ServerProcess) -> None:
    results = post_concurrently(f"{server.url}/v2/models/slow/infer", [infer_body()] * 150, limit=150)
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 429} and statuses.count(429) > 0 and statuses.count(200) > 0
    rejected = next((h, b) for s, h, b in results if s == 429)
    assert rejected[0]["retry-after"] == "1" and b"queue full" in rejected[1]
    assert metric_samples(client.get("/metrics").text, "slogate_rejected_total", model="slow")[0] > 0


def test_sim_honours_its_concurrency_limit_and_queue_bound(server: ServerProcess) -> None:
    # simq: one request at a time, 400 ms each, one more may wait; the third is turned away.
    started = time.monotonic()
    results = post_concurrently(f"{server.url}/v2/models/simq/infer", [infer_body()] * 3)
    elapsed = time.monotonic() - started
    assert sorted(status for status, _, _ in results) == [200, 200, 429]
    assert elapsed >= 0.8  # the two admitted requests ran one after the other
