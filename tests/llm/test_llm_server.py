"""The real reference server serving LLMs (`python -m reference_server`), driven over HTTP.

One server per session (vLLM's cold start is ~25 s here): tiny-llm/1 through vLLM (torch-lm
where vLLM does not import) and tiny-llm-torch/1,2 through torch-lm, for the traffic split
(two vLLM versions would mean two engines: twice the start time and ~3 GB more). API keys
are on, so every request carries one. The SIGTERM test stops the server; a later test that
needs it starts a fresh one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import openai
import psutil
import pytest
import torch

from harness.clients.base import Endpoint, make_client
from harness.contracts import Payload, PromptSpec
from harness.records import NEVER, Outcome
from reference_server.backends.vllm_engine import vllm_available
from reference_server.demo.repository import ensure_demo_repo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from server_process import ServerProcess, metric_samples  # (tests/server is not a package)

pytestmark = [pytest.mark.llm, pytest.mark.integration]

API_KEY, ADMIN_TOKEN = "llm-test-key", "llm-test-admin"
TORCH_MODEL = "tiny-llm-torch"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # the servers run with --device auto
READY_TIMEOUT_S = 180.0


def _auth(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


@pytest.fixture(scope="session")
def llm_repo(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("llm-repo")
    shutil.copytree(tiny_model_dir, repo / "tiny-llm" / "1")
    for version in ("1", "2"):
        target = repo / TORCH_MODEL / version
        shutil.copytree(tiny_model_dir, target)
        spec = json.loads((target / "model.json").read_text())
        (target / "model.json").write_text(json.dumps(spec | {"backend": "torch-lm"}))
    return repo


class SessionServer:
    """The session's server, started on first use and again if a test stopped it."""

    def __init__(self, repo: Path, workdir: Path) -> None:
        (workdir / "keys").write_text(API_KEY)
        (workdir / "admin").write_text(ADMIN_TOKEN)
        self.args = ["--model-repo", str(repo), "--api-keys", str(workdir / "keys"),
                     "--admin-token-file", str(workdir / "admin")]
        self.workdir = workdir
        self.starts = 0
        self.proc: ServerProcess | None = None

    def running(self) -> ServerProcess:
        if self.proc is None or self.proc.process is None or self.proc.process.poll() is not None:
            self.starts += 1
            log = self.workdir / f"server-{self.starts}.log"
            self.proc = ServerProcess(self.args, log).start(READY_TIMEOUT_S)
        return self.proc


@pytest.fixture(scope="session")
def session_server(llm_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionServer]:
    servers = SessionServer(llm_repo, tmp_path_factory.mktemp("llm-server"))
    yield servers
    if servers.proc is not None:
        assert servers.proc.stop() == 0, servers.proc.log()


@pytest.fixture
def server(session_server: SessionServer) -> ServerProcess:
    return session_server.running()


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    """Admin client; faults are cleared after each test."""
    with httpx.Client(base_url=server.url, headers=_auth(ADMIN_TOKEN), timeout=30) as client:
        yield client
        client.delete("/admin/faults")


def _fault(admin: httpx.Client, **fault: Any) -> None:
    response = admin.post("/admin/faults", json={"model": "tiny-llm", **fault})
    assert response.status_code == 201, response.text


def _stream(server: ServerProcess, spec: PromptSpec, model: str = "tiny-llm", **options: Any) -> Outcome:
    """One streamed request through the harness's own openai client."""

    async def go() -> Outcome:
        endpoint = Endpoint(server.url, model=model, headers=_auth(API_KEY), timeout_s=30, options=options)
        client = make_client("openai", endpoint)
        async with aiohttp.ClientSession() as session:
            return await client.send(session, client.encode(Payload(0, spec)))

    return asyncio.run(go())


def _complete(server: ServerProcess, model: str, max_tokens: int = 4) -> httpx.Response:
    body = {"model": model, "prompt": "def main():", "max_tokens": max_tokens, "ignore_eos": True}
    return httpx.post(f"{server.url}/v1/completions", json=body, headers=_auth(API_KEY), timeout=30)


def _seconds(ns: int) -> float:
    return ns / 1e9


SPEC = PromptSpec(16, prompt=" import os", ignore_eos=True)


def test_models_lists_every_llm(server: ServerProcess) -> None:
    listing = httpx.get(f"{server.url}/v1/models", headers=_auth(API_KEY)).json()
    assert {m["id"] for m in listing["data"]} == {"tiny-llm", TORCH_MODEL}
    assert all(m["max_model_len"] == 512 for m in listing["data"])


def _served(server: ServerProcess, model: str) -> dict[str, dict[str, str]]:
    response = httpx.get(f"{server.url}/v2/models/{model}", headers=_auth(API_KEY))
    assert response.status_code == 200, response.text
    return response.json()["parameters"]["served"]


def test_v2_metadata_says_which_engine_serves_each_llm_version(server: ServerProcess) -> None:
    engine = "vllm" if vllm_available() else "torch-lm"  # tiny-llm/1 asks for vLLM, torch-lm its fallback
    assert _served(server, "tiny-llm") == {"1": {"backend": engine, "requested_backend": "vllm", "device": DEVICE}}
    torch_lm = {"backend": "torch-lm", "requested_backend": "torch-lm", "device": DEVICE}
    assert _served(server, TORCH_MODEL) == {"1": torch_lm, "2": torch_lm}


@pytest.mark.parametrize("headers", [{}, _auth("wrong"), _auth(ADMIN_TOKEN)])
def test_v1_needs_an_api_key(server: ServerProcess, headers: dict[str, str]) -> None:
    body = {"model": "tiny-llm", "prompt": "x", "max_tokens": 1}
    assert httpx.post(f"{server.url}/v1/completions", json=body, headers=headers).status_code == 401
    assert httpx.get(f"{server.url}/v1/models", headers=headers).status_code == 401


@pytest.mark.parametrize("model", ["tiny-llm", TORCH_MODEL])
@pytest.mark.parametrize("mode", ["completion", "chat"])
def test_streams_carry_usage_chunks_and_version(server: ServerProcess, model: str, mode: str) -> None:
    outcome = _stream(server, SPEC, model=model, mode=mode)
    assert outcome.error_kind is None, outcome.detail
    assert outcome.status == 200 and outcome.model_version == ("1" if model == "tiny-llm" else "2")
    assert outcome.output_tokens == 16 and outcome.prompt_tokens > 2
    # It streamed: more than one event, in order. Not one event per token: partial UTF-8
    # tokens merge into the next, and vLLM sends every token generated since its last delta in
    # one event when its output loop falls behind (CI saw 10 events for 16 tokens on 2 busy cores).
    chunks = outcome.chunk_ns
    assert chunks is not None and len(chunks) >= 2 and chunks == sorted(chunks)
    assert chunks[-1] > chunks[0]


def test_non_streaming_answers_carry_usage_and_version(server: ServerProcess) -> None:
    response = _complete(server, "tiny-llm", max_tokens=8)
    assert response.status_code == 200 and response.headers["x-model-version"] == "1"
    usage = response.json()["usage"]
    assert usage["completion_tokens"] == 8 and usage["total_tokens"] == usage["prompt_tokens"] + 8


def test_the_openai_sdk_lists_completes_and_streams_a_chat(server: ServerProcess) -> None:
    """The official SDK, as users point it at /v1: model list, a completion, a streamed chat."""
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, timeout=60, max_retries=0)
    assert {model.id for model in client.models.list()} == {"tiny-llm", TORCH_MODEL}
    completion = client.completions.create(model="tiny-llm", prompt="def main():", max_tokens=4,
                                           extra_body={"ignore_eos": True})
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    assert completion.choices[0].text
    stream = client.chat.completions.create(model=TORCH_MODEL, messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=6, stream=True, stream_options={"include_usage": True},
                                            extra_body={"ignore_eos": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


def test_body_size_limit_applies_to_v1(server: ServerProcess) -> None:
    body = {"model": "tiny-llm", "prompt": "x" * (5 * 1024 * 1024), "max_tokens": 1}
    response = httpx.post(f"{server.url}/v1/completions", json=body, headers=_auth(API_KEY))
    assert response.status_code == 413


def test_traffic_split_and_unload_across_llm_versions(server: ServerProcess, admin: httpx.Client) -> None:
    assert admin.put(f"/admin/models/{TORCH_MODEL}/traffic", json={"1": 50, "2": 50}).status_code == 200
    try:
        versions = Counter(_complete(server, TORCH_MODEL, max_tokens=1).headers["x-model-version"] for _ in range(40))
        assert versions["1"] >= 8 and versions["2"] >= 8, versions
        # Unloading a version shuts its engine down; the split moves to what is left.
        assert admin.post(f"/admin/models/{TORCH_MODEL}/versions/1/unload").status_code == 200
        assert {_complete(server, TORCH_MODEL).headers["x-model-version"] for _ in range(5)} == {"2"}
    finally:
        assert admin.post(f"/admin/models/{TORCH_MODEL}/versions/1/load").status_code == 200
        admin.put(f"/admin/models/{TORCH_MODEL}/traffic", json={"2": 100})


def test_a_stream_to_an_llm_version_scaled_to_zero_waits_for_its_load(server: ServerProcess,
                                                                        admin: httpx.Client) -> None:
    """Scale to zero on /v1 as on /v2: the stream that meets a parked version waits for its
    engine to start, is answered by it, and says how long it waited (x-cold-start)."""
    assert admin.post(f"/admin/models/{TORCH_MODEL}/versions/2/park").status_code == 200
    try:
        listing = httpx.get(f"{server.url}/v1/models", headers=_auth(API_KEY)).json()
        assert {m["id"]: m["max_model_len"] for m in listing["data"]}[TORCH_MODEL] == 512  # from model.json, parked
        outcome = _stream(server, SPEC, model=TORCH_MODEL)
        assert outcome.error_kind is None, outcome.detail
        assert outcome.model_version == "2" and outcome.cold_wait_ns > 0
        warm = _stream(server, SPEC, model=TORCH_MODEL)
        assert warm.error_kind is None and warm.model_version == "2" and warm.cold_wait_ns == NEVER
        cold = metric_samples(httpx.get(f"{server.url}/metrics").text, "slogate_cold_requests_total",
                              model=TORCH_MODEL, version="2")
        assert cold == [1.0]
    finally:
        admin.post(f"/admin/models/{TORCH_MODEL}/versions/2/load")


def test_metrics_count_tokens_and_time_to_first_token(server: ServerProcess) -> None:
    def scrape() -> str:
        return httpx.get(f"{server.url}/metrics").text

    labels = {"model": "tiny-llm", "version": "1"}
    before = scrape()
    outcome = _stream(server, PromptSpec(12, prompt=" while True:", ignore_eos=True))
    after = scrape()

    def grew(name: str) -> float:
        return sum(metric_samples(after, name, **labels)) - sum(metric_samples(before, name, **labels))

    assert grew("slogate_llm_output_tokens_total") == 12
    assert grew("slogate_llm_prompt_tokens_total") == outcome.prompt_tokens
    assert grew("slogate_llm_time_to_first_token_seconds_count") == 1
    assert grew("slogate_request_latency_seconds_count") == 1
    assert metric_samples(after, "slogate_llm_time_to_first_token_seconds_bucket", le="0.005", **labels)
    assert metric_samples(after, "slogate_requests_in_flight", model="tiny-llm") == [0.0]
    assert metric_samples(after, "slogate_model_load_seconds", **labels)[0] > 0


def test_latency_fault_delays_the_first_token(server: ServerProcess, admin: httpx.Client) -> None:
    def timed() -> tuple[float, float]:
        """(first token after the send, the rest of the stream) in seconds."""
        started = time.perf_counter_ns()
        outcome = _stream(server, SPEC)
        assert outcome.error_kind is None, outcome.detail
        return _seconds(outcome.first_byte_ns - started), _seconds(outcome.done_ns - outcome.first_byte_ns)

    before, _ = timed()
    _fault(admin, kind="latency", ms=400)
    delayed, rest = timed()
    assert delayed >= 0.4 > before and rest < 0.4  # the delay comes first; the rest streams as usual


def test_stall_fault_pauses_after_the_first_chunk(server: ServerProcess, admin: httpx.Client) -> None:
    _fault(admin, kind="stall", ms=500)
    outcome = _stream(server, SPEC)
    assert outcome.error_kind is None and outcome.output_tokens == 16
    gaps = [_seconds(b - a) for a, b in itertools.pairwise(outcome.chunk_ns)]
    # One pause, right after the first chunk. vLLM generates on meanwhile, so the rest may
    # arrive as one chunk and there may be no further gap at all.
    assert gaps[0] >= 0.45 and max(gaps[1:], default=0.0) < 0.45


def test_error_fault_answers_its_status_before_streaming(server: ServerProcess, admin: httpx.Client) -> None:
    _fault(admin, kind="error", status=503)
    outcome = _stream(server, SPEC)
    assert (outcome.status, outcome.error_kind, outcome.chunk_ns) == (503, "http", None)


def test_truncate_fault_cuts_the_stream(server: ServerProcess, admin: httpx.Client) -> None:
    _fault(admin, kind="truncate", chunks=3)
    outcome = _stream(server, SPEC)
    assert outcome.error_kind == "truncated"
    assert outcome.chunk_ns is not None and 1 <= len(outcome.chunk_ns) <= 3
    admin.delete("/admin/faults")
    assert _stream(server, SPEC).error_kind is None  # the server serves on


def test_faults_that_mean_nothing_for_a_model_are_refused(admin: httpx.Client) -> None:
    assert admin.post("/admin/faults", json={"kind": "nan", "model": "tiny-llm"}).status_code == 400
    random_cut = admin.post("/admin/faults", json={"kind": "truncate", "model": "tiny-llm", "rate": 0.5})
    assert random_cut.status_code == 201


def test_without_vllm_the_demo_serves_tiny_llm_through_torch_lm(tmp_path: Path) -> None:
    """The fallback, forced: SLOGATE_LLM_BACKEND=torch-lm stands in for a machine without vLLM."""
    repo = ensure_demo_repo(tmp_path / "cache")
    proc = ServerProcess(["--model-repo", str(repo)], tmp_path / "server.log", env={"SLOGATE_LLM_BACKEND": "torch-lm"})
    proc.start(READY_TIMEOUT_S)
    try:
        listing = httpx.get(f"{proc.url}/v1/models").json()
        assert [m["id"] for m in listing["data"]] == ["tiny-llm"]
        outcome = _stream(proc, SPEC, mode="chat")
        assert outcome.error_kind is None and outcome.output_tokens == 16
        fallback = {"backend": "torch-lm", "requested_backend": "vllm", "device": DEVICE}
        assert _served(proc, "tiny-llm") == {"1": fallback}
    finally:
        assert proc.stop() == 0
    assert "tiny-llm/1: served by torch-lm" in proc.log()
    assert "EngineCore" not in proc.log()


def test_sigterm_finishes_the_in_flight_stream_then_everything_exits(server: ServerProcess) -> None:
    """Last in this file: it stops the session server (a later test would start a new one)."""
    stall = {"kind": "stall", "model": "tiny-llm", "ms": 1500}  # keeps the stream in flight across the SIGTERM
    assert httpx.post(f"{server.url}/admin/faults", json=stall, headers=_auth(ADMIN_TOKEN)).status_code == 201
    engine = psutil.Process(server.process.pid).children(recursive=True)
    outcome: list[Outcome] = []
    streaming = threading.Thread(target=lambda: outcome.append(_stream(server, SPEC)))
    streaming.start()
    time.sleep(0.7)
    server.process.send_signal(signal.SIGTERM)
    streaming.join(30)
    assert outcome and outcome[0].error_kind is None and outcome[0].output_tokens == 16
    assert server.process.wait(30) == 0, server.log()
    _, alive = psutil.wait_procs(engine, timeout=15)
    assert not alive, f"engine processes outlived the server: {alive}"
