"""openai_routes on a real uvicorn, driven over loopback by the harness's openai client."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from harness.clients.base import Endpoint, make_client
from harness.contracts import Payload
from harness.records import NEVER, Outcome
from harness.workload.prompts import PromptSpec

pytestmark = [pytest.mark.llm, pytest.mark.integration]


def _send(loop_thread, url: str, spec: PromptSpec, model: str = "tiny-llm", **options: Any) -> Outcome:
    async def go() -> Outcome:
        client = make_client("openai", Endpoint(url, model=model, options=options))
        async with aiohttp.ClientSession() as session:
            return await client.send(session, client.encode(Payload(0, spec)))

    return loop_thread.run(go())


def _post(loop_thread, url: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
    async def go() -> tuple[int, dict[str, str], Any]:
        async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as response:
            return response.status, dict(response.headers), await response.json()

    return loop_thread.run(go())


@pytest.mark.parametrize("model", ["tiny-llm", "tiny-llm-torch"])
@pytest.mark.parametrize("mode", ["completion", "chat"])
def test_stream_records_first_token_chunks_and_usage(loop_thread, served, model: str, mode: str) -> None:
    sent = time.perf_counter_ns()
    spec = PromptSpec(32, prompt=" the city of music", ignore_eos=True)
    outcome = _send(loop_thread, served["url"], spec, model=model, mode=mode)
    assert outcome.error_kind is None and outcome.status == 200, outcome.detail
    assert outcome.model_version == "1"
    assert outcome.output_tokens == 32 and outcome.prompt_tokens > 4
    chunks = outcome.chunk_ns
    assert chunks and chunks == sorted(chunks) and chunks[0] == outcome.first_byte_ns
    assert sent < outcome.first_byte_ns <= chunks[-1] <= outcome.done_ns
    # One chunk per token, except tokens holding half a UTF-8 character (merged into the next).
    assert 0.7 * 32 <= len(chunks) <= 32


def test_without_usage_tokens_are_counted_from_the_stream(loop_thread, served) -> None:
    spec = PromptSpec(16, prompt=" first", ignore_eos=True)
    outcome = _send(loop_thread, served["url"], spec, include_usage=False)
    assert outcome.error_kind is None
    assert outcome.prompt_tokens == NEVER and outcome.output_tokens == len(outcome.chunk_ns)


def test_non_streaming_answers_carry_usage(loop_thread, served) -> None:
    body = {"model": "tiny-llm", "prompt": "hello", "max_tokens": 8, "ignore_eos": True}
    status, headers, answer = _post(loop_thread, served["url"], "/v1/completions", body)
    assert status == 200 and headers["x-model-version"] == "1"
    assert answer["object"] == "text_completion" and answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 8
    assert answer["usage"]["total_tokens"] == answer["usage"]["prompt_tokens"] + 8
    chat = {"model": "tiny-llm-torch", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 4, "ignore_eos": True}
    status, _, answer = _post(loop_thread, served["url"], "/v1/chat/completions", chat)
    assert status == 200 and answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/completions", {"model": "nope", "prompt": "x"}, 404, "model"),
        ("/v1/completions", {"prompt": "x"}, 400, "model"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": 3}, 400, "prompt"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": "x", "max_tokens": 0}, 400, "max_tokens"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": "x", "max_tokens": True}, 400, "max_tokens"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": "x", "temperature": 9}, 400, "temperature"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": "x", "n": 2}, 400, "n"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": "x " * 600, "stream": True}, 400, "prompt"),
        ("/v1/completions", {"model": "tiny-llm", "prompt": "x", "max_tokens": 900}, 400, "max_tokens"),
        ("/v1/chat/completions", {"model": "tiny-llm", "messages": []}, 400, "messages"),
        ("/v1/chat/completions", {"model": "tiny-llm", "messages": [{"role": "bot", "content": "x"}]}, 400, "messages[0].role"),
        ("/v1/chat/completions", {"model": "tiny-llm", "messages": [{"role": "user"}]}, 400, "messages[0].content"),
    ],
)
def test_bad_requests_get_json_errors_naming_the_field(loop_thread, served, path, body, status, field) -> None:
    got, _, answer = _post(loop_thread, served["url"], path, body)
    assert (got, answer["field"]) == (status, field) and answer["error"]


def test_models_and_describe(loop_thread, served) -> None:
    async def go():
        client = make_client("openai", Endpoint(served["url"]))
        async with aiohttp.ClientSession() as session:
            return client, await client.describe(session)

    client, info = loop_thread.run(go())
    assert info.parameters["models"] == ["tiny-llm", "tiny-llm-torch", "tiny-llm-failing"]
    assert client.model == "tiny-llm" and info.parameters["max_model_len"] == 512


def test_error_event_mid_stream_is_truncated(loop_thread, served) -> None:
    outcome = _send(loop_thread, served["url"], PromptSpec(50, prompt="x", ignore_eos=True), model="tiny-llm-failing")
    assert outcome.error_kind == "truncated" and outcome.status == 200
    assert outcome.chunk_ns and len(outcome.chunk_ns) <= 3


def test_http_error_is_http(loop_thread, served) -> None:
    outcome = _send(loop_thread, served["url"], PromptSpec(4, prompt="x"), model="unknown")
    assert (outcome.status, outcome.error_kind) == (404, "http") and "unknown model" in outcome.detail


def test_connection_cut_mid_stream_is_truncated(loop_thread, served) -> None:
    """A loopback proxy forwards the real server's stream, then cuts the connection."""
    cut = {"after": 1500}

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, budget: dict[str, int] | None) -> None:
        while data := await reader.read(256):
            if budget is not None:
                budget["after"] -= len(data)
                if budget["after"] <= 0:
                    writer.transport.abort()  # an RST mid-stream, as a crashed server or proxy gives
                    return
            writer.write(data)
            await writer.drain()
        writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", served["port"])
        await asyncio.gather(
            pipe(client_reader, upstream_writer, None), pipe(upstream_reader, client_writer, cut), return_exceptions=True
        )
        upstream_writer.close()

    async def run() -> Outcome:
        proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = proxy.sockets[0].getsockname()[1]
        client = make_client("openai", Endpoint(f"http://127.0.0.1:{port}", model="tiny-llm"))
        async with proxy, aiohttp.ClientSession() as session:
            return await client.send(session, client.encode(Payload(0, PromptSpec(200, prompt="x", ignore_eos=True))))

    outcome = loop_thread.run(run())
    assert outcome.error_kind == "truncated", outcome.detail
    assert outcome.chunk_ns  # some tokens arrived before the cut


def test_client_disconnect_aborts_the_generation(loop_thread, served, vllm_backend) -> None:
    async def read_a_little_then_hang_up() -> int:
        body = {"model": "tiny-llm", "prompt": "x", "max_tokens": 480, "ignore_eos": True, "stream": True}
        async with aiohttp.ClientSession() as session:
            response = await session.post(served["url"] + "/v1/completions", json=body)
            await response.content.readline()
            response.close()  # drops the connection mid-stream
        await asyncio.sleep(0.3)
        # No public API reports this; the engine's own counter is the ground truth.
        return vllm_backend._engine.get_num_unfinished_requests()

    assert loop_thread.run(read_a_little_then_hang_up()) == 0
