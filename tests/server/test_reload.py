"""A reload loads a version again from disk beside the copy serving it: a tampered artifact is
refused with the reason, and the copy already loaded keeps answering as before."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import infer_body, metric_samples

from reference_server.metrics import Metrics
from reference_server.model_manager import ModelManager
from reference_server.placement import Placement
from reference_server.repository import RepositoryError

pytestmark = pytest.mark.integration


def _prediction(client: httpx.Client, model: str, version: str) -> float:
    answer = client.post(f"/v2/models/{model}/versions/{version}/infer", json=infer_body())
    assert answer.status_code == 200, answer.text
    return answer.json()["outputs"][0]["data"][0]


@pytest.fixture
def tampered_fraudx_1(model_repo: Path) -> Iterator[Path]:
    """fraudx/1's artifact with its last bytes inverted, its model.json's sha256 left as it was."""
    artifact = model_repo / "fraudx" / "1" / "model.safetensors"
    original = artifact.read_bytes()
    artifact.write_bytes(original[:-64] + bytes(b ^ 0xFF for b in original[-64:]))
    yield artifact
    artifact.write_bytes(original)


def test_a_tampered_reload_is_refused_and_the_loaded_copy_keeps_serving(client: httpx.Client,
                                                                       tampered_fraudx_1: Path) -> None:
    before = _prediction(client, "fraudx", "1")
    refused = client.post("/admin/models/fraudx/versions/1/reload")
    assert refused.status_code == 422, refused.text
    assert "sha256 mismatch" in refused.json()["error"] and refused.json()["reason"] == "sha256_mismatch"
    assert _prediction(client, "fraudx", "1") == before
    listed = {m["model"]: m for m in client.get("/admin/models").json()["models"]}["fraudx"]
    assert listed["versions"]["1"]["state"] == "ready" and "1" not in listed["refused"]
    failures = metric_samples(client.get("/metrics").text, "slogate_model_load_failures_total",
                              model="fraudx", version="1", reason="sha256_mismatch")
    assert failures == [1.0]


def test_a_reload_of_an_intact_artifact_swaps_in_a_new_copy(client: httpx.Client) -> None:
    before = client.get("/admin/models").json()
    reloaded = client.post("/admin/models/fraudx/versions/1/reload")
    assert reloaded.status_code == 200 and reloaded.json()["state"] == "ready", reloaded.text
    loaded_at = {m["model"]: m for m in client.get("/admin/models").json()["models"]}["fraudx"]["versions"]["1"]
    was = {m["model"]: m for m in before["models"]}["fraudx"]["versions"]["1"]
    assert loaded_at["loaded_at"] > was["loaded_at"]
    assert _prediction(client, "fraudx", "1") == pytest.approx(_prediction(client, "fraud", "1"))


def test_only_a_loaded_version_reloads(client: httpx.Client) -> None:
    assert client.post("/admin/models/fraudx/versions/2/reload").status_code == 404  # refused at start: load it
    assert client.post("/admin/models/fraud/versions/7/reload").status_code == 404


def test_without_verification_a_tampered_artifact_loads(model_repo: Path, tmp_path: Path) -> None:
    """--no-verify-artifacts: what the sha256 check guards against gets served."""
    repo = tmp_path / "repo"
    (repo / "m").mkdir(parents=True)
    version = repo / "m" / "1"
    version.symlink_to(model_repo / "fraudx" / "2")  # its artifact no longer matches its sha256
    assert json.loads((version / "model.json").read_text())["sha256"]
    with pytest.raises(RepositoryError, match="sha256 mismatch"):
        asyncio.run(_load_once(ModelManager(repo, Placement("cpu", 1), Metrics(), drain_timeout_s=1.0)))
    unchecked = ModelManager(repo, Placement("cpu", 1), Metrics(), drain_timeout_s=1.0, verify_artifacts=False)
    assert asyncio.run(_load_once(unchecked)) == "1"


async def _load_once(manager: ModelManager) -> str:
    try:
        return (await manager.load("m", "1")).version
    finally:
        await manager.close()
