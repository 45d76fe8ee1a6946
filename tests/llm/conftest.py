"""Shared LLM fixtures: the tiny model (built once), one event loop thread that owns the
engines and a uvicorn server for the whole session, so vLLM's ~25 s cold start is paid once."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from starlette.applications import Starlette

from reference_server.backends.generative import (
    GenerationChunk,
    GenerationRequest,
    GenerativeBackend,
    make_generative_backend,
)
from reference_server.demo.tiny_llm import build_tiny_llm
from reference_server.openai_api import openai_routes

T = TypeVar("T")


class LoopThread:
    """An event loop on its own thread; tests hand it coroutines and wait for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="llm-test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm") / "1")


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.stop()


def _started(loop_thread: LoopThread, kind: str, model_dir: Path, name: str) -> GenerativeBackend:
    backend = make_generative_backend(kind, model_dir, {"device": "cpu"}, name=name)
    loop_thread.run(backend.start())
    return backend


@pytest.fixture(scope="session")
def vllm_backend(loop_thread: LoopThread, tiny_model_dir: Path) -> Iterator[GenerativeBackend]:
    pytest.importorskip("vllm")
    backend = _started(loop_thread, "vllm", tiny_model_dir, "tiny-llm")
    yield backend
    loop_thread.run(backend.shutdown())


@pytest.fixture(scope="session")
def torch_backend(loop_thread: LoopThread, tiny_model_dir: Path) -> Iterator[GenerativeBackend]:
    backend = _started(loop_thread, "torch-lm", tiny_model_dir, "tiny-llm-torch")
    yield backend
    loop_thread.run(backend.shutdown())


@pytest.fixture(scope="session", params=["vllm", "torch-lm"])
def backend(request: pytest.FixtureRequest) -> GenerativeBackend:
    return request.getfixturevalue("vllm_backend" if request.param == "vllm" else "torch_backend")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FailingBackend:
    """Delegates to a real backend, then fails after `after_chunks` chunks: a mid-stream error."""

    def __init__(self, inner: GenerativeBackend, after_chunks: int) -> None:
        self.inner = inner
        self.after_chunks = after_chunks
        self.model_name = "tiny-llm-failing"
        self.max_model_len = inner.max_model_len

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        return self.inner.apply_chat_template(messages)

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        async with aclosing(self.inner.generate(req)) as chunks:
            count = 0
            async for chunk in chunks:
                count += 1
                if count > self.after_chunks:
                    raise RuntimeError("injected mid-stream failure")
                yield chunk


@pytest.fixture(scope="session")
def served(loop_thread: LoopThread, vllm_backend: GenerativeBackend, torch_backend: GenerativeBackend) -> Iterator[dict[str, Any]]:
    """A real uvicorn on loopback serving the backends through `openai_routes`."""
    backends = {
        "tiny-llm": vllm_backend,
        "tiny-llm-torch": torch_backend,
        "tiny-llm-failing": FailingBackend(vllm_backend, after_chunks=3),
    }

    def decorate(request: Any, backend: GenerativeBackend, response: Any) -> None:
        response.headers["x-model-version"] = "1"

    app = Starlette(routes=openai_routes(backends.get, lambda: list(backends), decorate))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = loop_thread.run(_serve(server))
    yield {"url": f"http://127.0.0.1:{port}", "port": port, "backends": backends}
    loop_thread.run(_stop(server, task))


async def _serve(server: uvicorn.Server) -> asyncio.Task[None]:
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces a startup failure (e.g. the port was taken)
        await asyncio.sleep(0.05)
    return task


async def _stop(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task
