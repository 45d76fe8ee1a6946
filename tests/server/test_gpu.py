"""The server's CUDA paths, proved on a GPU box by scripts/gpu_check.sh; skipped on CPU.

Devices are read from the tensors themselves, not from flags: a model that silently stayed
on the CPU would pass every flag check.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from server_process import ServerProcess, infer_body, metric_samples

from reference_server.backends.base import BackendContext, backend_class
from reference_server.batching import Batcher
from reference_server.placement import Placement
from reference_server.repository import BatchingSpec, read_spec, verify_artifact

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA device (torch.cuda.is_available() is false): run scripts/gpu_check.sh on a GPU machine"),
]

REQUESTS = 64


def fraud_backend(repo: Path, version: str, device: str):
    version_dir = repo / "fraud" / version
    spec = read_spec(version_dir)
    backend = backend_class(spec.backend)(BackendContext("fraud", version, spec, version_dir,
                                                         verify_artifact(version_dir, spec), Placement(device, 1)))
    backend.load()
    return backend


def rows(n: int, features: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, features)).astype(np.float32)


@pytest.mark.parametrize("version", ["1", "2"])
def test_the_fraud_model_really_runs_on_cuda(demo_repo: Path, version: str) -> None:
    backend = fraud_backend(demo_repo, version, "cuda")
    assert {p.device.type for p in backend.module.parameters()} == {"cuda"}
    outputs = backend.predict(rows(8, backend.n_features))
    assert backend.served_by().device == "cuda"
    assert all(np.isfinite(out).all() and len(out) == 8 for out in outputs.values())


def test_batched_outputs_on_cuda_match_the_cpu(demo_repo: Path) -> None:
    """64 single-row requests batched on the GPU answer as the CPU does, row for row."""
    gpu, cpu = fraud_backend(demo_repo, "2", "cuda"), fraud_backend(demo_repo, "2", "cpu")
    inputs = rows(REQUESTS, cpu.n_features)

    async def batched() -> list[dict[str, np.ndarray]]:
        batcher = Batcher(gpu.predict, BatchingSpec(max_batch_size=32, max_queue_delay_ms=2.0), "gpu-check")
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(inputs[i : i + 1]) for i in range(REQUESTS)))
        finally:
            await batcher.stop()

    answers = asyncio.run(batched())
    expected = cpu.predict(inputs)
    for name, values in expected.items():
        np.testing.assert_allclose(np.concatenate([a[name] for a in answers]), values, rtol=1e-4, atol=1e-5)


def test_the_server_reports_cuda_in_metadata_and_metrics(demo_repo: Path, tmp_path: Path) -> None:
    server = ServerProcess(["--model-repo", str(demo_repo), "--device", "cuda"], tmp_path / "server.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/v2/models/fraud/infer", json=infer_body()).status_code == 200
            served = client.get("/v2/models/fraud").json()["parameters"]["served"]
            text = client.get("/metrics").text
    finally:
        assert server.stop() == 0, server.log()
    assert {where["device"] for where in served.values()} == {"cuda"}
    for version in served:
        assert metric_samples(text, "slogate_model_served_on", model="fraud", version=version, device="cuda") == [1.0]
