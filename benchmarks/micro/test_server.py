"""The reference server's hot paths: an OIP v2 body to rows, a batch round trip, /metrics (and its merge across workers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest

from reference_server.backends.base import Outputs
from reference_server.batching import Batcher
from reference_server.exposition_merge import merge_expositions
from reference_server.metrics import ACROSS_WORKERS, Metrics
from reference_server.model_manager import ModelManager
from reference_server.placement import Placement
from reference_server.repository import BatchingSpec, TensorSpec
from reference_server.validation import oip_inputs, parse_body, tensor_rows

FEATURES = 8
SPEC = TensorSpec(name="features", shape=[-1, FEATURES])
SUBMITS = 1000
MODELS = 50


@pytest.mark.parametrize("rows", [1, 64, 4096])
def test_oip_body_to_rows(benchmark, rows: int) -> None:
    data = np.random.default_rng(0).normal(size=(rows, FEATURES)).round(4)
    raw = orjson.dumps({"id": "1", "inputs": [{"name": "features", "datatype": "FP32", "shape": [rows, FEATURES],
                                               "data": data.ravel().tolist()}]})
    parsed = benchmark(lambda: tensor_rows(oip_inputs(parse_body(raw)), SPEC))
    assert parsed.shape == (rows, FEATURES)


def no_op(rows: np.ndarray) -> Outputs:
    return {"score": np.zeros((len(rows), 1), np.float32)}


async def started(batcher: Batcher) -> None:
    batcher.start()  # its collector task belongs to the running loop


async def submit_and_collect(batcher: Batcher, rows: np.ndarray) -> int:
    answered = 0
    for _ in range(SUBMITS):
        answered += len((await batcher.submit(rows))["score"])
    return answered


def test_batcher_submit_to_result_per_thousand(benchmark, loop) -> None:
    """One request at a time, so each pays the whole submit, wake, predict and hand-back."""
    batcher = Batcher(no_op, BatchingSpec(max_queue_delay_ms=0), "micro")
    loop.run_until_complete(started(batcher))
    rows = np.zeros((1, FEATURES), np.float32)
    answered = benchmark(lambda: loop.run_until_complete(submit_and_collect(batcher, rows)))
    loop.run_until_complete(batcher.stop())
    assert answered == SUBMITS


def sim_repository(repo: Path) -> Path:
    for i in range(MODELS):
        version = repo / f"model{i:02d}" / "1"
        version.mkdir(parents=True)
        (version / "model.json").write_text(json.dumps({
            "backend": "sim", "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, FEATURES]}],
            "outputs": [{"name": "score", "datatype": "FP32", "shape": [-1, 1]}],
            "sim": {"distribution": "constant", "median_ms": 1.0}}))
    return repo


def fifty_models_answered(loop, repo: Path) -> tuple[Metrics, ModelManager]:
    metrics = Metrics()
    manager = ModelManager(sim_repository(repo), Placement("cpu", 1), metrics, drain_timeout_s=1.0)
    loop.run_until_complete(manager.load_all())
    for model in manager.models:
        for status in (200, 400, 503):
            metrics.request_answered(model, "1", status, 0.004)
    return metrics, manager


def test_render_metrics_of_fifty_models(benchmark, loop, tmp_path) -> None:
    metrics, manager = fifty_models_answered(loop, tmp_path)
    page = benchmark(metrics.render, manager.models, {})  # no drift reports
    loop.run_until_complete(manager.close())
    assert page.count(b'slogate_request_latency_seconds_count{model="model') == MODELS * 3


def test_merge_two_workers_metrics_of_fifty_models(benchmark, loop, tmp_path) -> None:
    """What --workers 2 adds to a scrape, beyond reading the other worker's page."""
    metrics, manager = fifty_models_answered(loop, tmp_path)
    page = metrics.render(manager.models, {})
    loop.run_until_complete(manager.close())
    merged = benchmark(merge_expositions, [page, page], ACROSS_WORKERS)
    assert merged.count(b'slogate_requests_total{code="200"') == MODELS
