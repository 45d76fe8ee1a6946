"""Fixtures: a test model repository (the demo one plus extras) and one shared server."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from safetensors.torch import load_file
from server_process import ServerProcess, free_port, write_schema_model

from reference_server.backends.torch_mlp import build_mlp
from reference_server.demo.fraud import write_mlp_version
from reference_server.demo.repository import ensure_demo_repo
from reference_server.demo.sim import build_sim_model
from reference_server.repository import sha256_file

pytestmark = pytest.mark.integration


def _add_torchscript_twin(repo: Path) -> None:
    """fraudts/1: fraud/1's weights as a TorchScript archive, to serve through that backend."""
    spec = json.loads((repo / "fraud" / "1" / "model.json").read_text())
    module = build_mlp(spec["architecture"])
    module.load_state_dict(load_file(str(repo / "fraud" / "1" / "model.safetensors")))
    version = repo / "fraudts" / "1"
    version.mkdir(parents=True)
    torch.jit.save(torch.jit.trace(module.eval(), torch.zeros(1, 14)), str(version / "model.pt"))
    spec.update(backend="torchscript", artifact="model.pt", sha256=sha256_file(version / "model.pt"))
    del spec["architecture"]
    (version / "model.json").write_text(json.dumps(spec))


class _Exploding(torch.nn.Module):
    """Fails on a negative amount, as a model with an unchecked precondition would."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x[:, 0] < 0).any()):
            raise RuntimeError("negative amount")
        return torch.sigmoid(x[:, :1])


def _add_failing_model(repo: Path) -> None:
    spec = json.loads((repo / "fraudts" / "1" / "model.json").read_text())
    version = repo / "exploding" / "1"
    version.mkdir(parents=True)
    torch.jit.save(torch.jit.script(_Exploding()), str(version / "model.pt"))
    spec.update(sha256=sha256_file(version / "model.pt"))
    (version / "model.json").write_text(json.dumps(spec))


def _add_tampered_model(repo: Path) -> None:
    """fraudx/1 is intact; fraudx/2's artifact no longer matches its sha256."""
    shutil.copytree(repo / "fraud" / "1", repo / "fraudx" / "1")
    shutil.copytree(repo / "fraud" / "2", repo / "fraudx" / "2")
    artifact = repo / "fraudx" / "2" / "model.safetensors"
    data = bytearray(artifact.read_bytes())
    data[-1] ^= 0xFF
    artifact.write_bytes(bytes(data))


def _add_slow_model(repo: Path) -> None:
    """slow/1: a wide MLP (~ms per row) behind a 2-request queue, to provoke 429s."""
    torch.manual_seed(0)
    layers = [14, 1536, 1536, 1536, 1]
    spec = json.loads((repo / "fraud" / "1" / "model.json").read_text())
    write_mlp_version(repo / "slow" / "1", build_mlp({"kind": "mlp", "layers": layers}), layers,
                      {"max_batch_size": 1, "max_queue_delay_ms": 0, "max_queue_size": 2}, spec["baseline"])


@pytest.fixture(scope="session")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repository without tiny-llm: /v2 tests need no LLM engine (vLLM: ~25 s, ~3 GB
    per server); tests/llm serve it."""
    repo = ensure_demo_repo(tmp_path_factory.mktemp("cache"))
    shutil.rmtree(repo / "tiny-llm", ignore_errors=True)
    return repo


@pytest.fixture(scope="session")
def model_repo(demo_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo") / "models"
    shutil.copytree(demo_repo, repo)
    _add_torchscript_twin(repo)
    _add_tampered_model(repo)
    _add_failing_model(repo)
    _add_slow_model(repo)
    build_sim_model(repo / "simlog" / "1", {"distribution": "lognormal", "median_ms": 20, "sigma": 0.5,
                                            "concurrency": 512, "seed": 11})
    write_schema_model(repo / "schema" / "1")
    build_sim_model(repo / "simq" / "1", {"distribution": "constant", "median_ms": 400, "concurrency": 1,
                                          "max_queue_size": 1})
    return repo


@pytest.fixture(scope="session")
def grpc_port() -> int:
    """The shared server's OIP v2 gRPC port (--grpc-port)."""
    return free_port()


@pytest.fixture(scope="session")
def server(model_repo: Path, grpc_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The shared server: no auth (loopback), admin open, small body limit for the 413 test, gRPC on too."""
    proc = ServerProcess(["--model-repo", str(model_repo), "--max-body-bytes", "262144", "--grpc-port", str(grpc_port)],
                         tmp_path_factory.mktemp("logs") / "server.log").start()
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
