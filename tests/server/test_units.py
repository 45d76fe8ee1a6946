"""In-process tests of pure parts: device selection, bind policy, traffic split, nonces, readiness."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path

import httpx
import pytest

from reference_server.app import create_app
from reference_server.auth import NonceCache
from reference_server.config import ServerConfig, check_bind_policy, is_loopback, parse_args, resolve_device
from reference_server.errors import RequestError
from reference_server.metrics import Metrics
from reference_server.model_manager import ModelManager
from reference_server.placement import Placement
from reference_server.repository import RepositoryError
from reference_server.routing import TrafficSplit


@pytest.mark.parametrize(("requested", "cuda", "expected"), [
    ("auto", False, "cpu"), ("auto", True, "cuda"), ("cpu", True, "cpu"), ("cuda", True, "cuda"),
])
def test_device_selection(requested: str, cuda: bool, expected: str) -> None:
    assert resolve_device(requested, cuda) == expected


def test_cuda_without_a_gpu_and_unknown_devices_are_errors() -> None:
    with pytest.raises(ValueError, match="cuda"):
        resolve_device("cuda", False)
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu", True)


def test_bind_policy() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    check_bind_policy(ServerConfig(host="127.0.0.1"))
    check_bind_policy(ServerConfig(host="0.0.0.0", insecure=True))
    check_bind_policy(ServerConfig(host="0.0.0.0", api_keys_file=Path("keys")))
    with pytest.raises(SystemExit, match="refusing to bind"):
        check_bind_policy(ServerConfig(host="0.0.0.0"))


def test_cli_round_trips_through_the_worker_environment() -> None:
    config = parse_args(["--port", "9000", "--model-repo", "/tmp/r", "--device", "cpu", "--workers", "2"])
    assert ServerConfig.from_json(config.to_json()) == config


def test_split_defaults_to_latest_and_keeps_explicit_weights() -> None:
    split = TrafficSplit()
    assert split.pick() is None
    split.set_loaded(["1", "2", "10"])
    assert split.weights() == {"1": 0.0, "2": 0.0, "10": 100.0}  # numeric order, not string order
    split.set_weights({"1": 3, "2": 1})
    split._random = random.Random(0).random
    picks = Counter(split.pick() for _ in range(4000))
    assert set(picks) == {"1", "2"} and 2800 < picks["1"] < 3200
    split.set_loaded(["2", "10"])  # unloading 1 drops its weight; 2 keeps its explicit share
    assert split.weights() == {"2": 100.0, "10": 0.0}
    split.set_loaded(["10"])  # nothing weighted is left: the latest takes over
    assert split.weights() == {"10": 100.0}
    with pytest.raises(RequestError):
        split.set_weights({"2": 100})


def test_nonces_are_single_use_within_the_window() -> None:
    cache = NonceCache()
    assert cache.check_and_add("a", now=0.0)
    assert not cache.check_and_add("a", now=1.0)
    assert cache.check_and_add("a", now=10_000.0)  # long expired: forgotten (bounded memory)


def test_readiness_waits_for_models_and_turns_503_on_drain(demo_repo: Path) -> None:
    app = create_app(ServerConfig(model_repo=demo_repo))

    async def ready() -> tuple[int, dict]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            r = await client.get("/v2/health/ready")
            return r.status_code, r.json()

    assert asyncio.run(ready()) == (503, {"ready": False, "error": "loading models", "field": None})
    app.state.loaded = True
    assert asyncio.run(ready()) == (200, {"ready": True})
    app.begin_drain()
    assert asyncio.run(ready()) == (503, {"ready": False, "error": "draining", "field": None})


def test_an_unknown_backend_refuses_the_version_and_names_the_known_ones(tmp_path: Path) -> None:
    version = tmp_path / "m" / "1"
    version.mkdir(parents=True)
    (version / "model.json").write_text(json.dumps({"backend": "torhc"}))
    manager = ModelManager(tmp_path, Placement("cpu", 1), Metrics(), drain_timeout_s=1.0)
    known = "known: sim, torch, torch-lm, torchscript, vllm"
    with pytest.raises(RepositoryError, match=f"unknown backend 'torhc'; did you mean 'torch'\\?; {known}"):
        asyncio.run(manager.load("m", "1"))
    assert manager.models["m"].refused["1"].startswith("unknown backend 'torhc'")


@pytest.mark.parametrize(("traffic", "expected"), [
    ({"1": 100}, {"1": 100.0, "2": 0.0}),  # a staged version takes nothing until given some
    (None, {"1": 0.0, "2": 100.0}),  # without traffic.json the latest version takes all
    ({"9": 100}, {"1": 0.0, "2": 100.0}),  # naming nothing loaded: ignored, with a log line
])
def test_traffic_json_sets_the_split_a_model_starts_with(tmp_path: Path, traffic, expected) -> None:
    for name in ("1", "2"):
        version = tmp_path / "m" / name
        version.mkdir(parents=True)
        (version / "model.json").write_text(json.dumps({"backend": "sim", "sim": {"median_ms": 1}}))
    if traffic is not None:
        (tmp_path / "m" / "traffic.json").write_text(json.dumps(traffic))
    manager = ModelManager(tmp_path, Placement("cpu", 1), Metrics(), drain_timeout_s=1.0)
    asyncio.run(manager.load_all())
    assert manager.models["m"].split.weights() == expected
