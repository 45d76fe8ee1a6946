"""`openai`: streaming OpenAI completions / chat completions, timed per chunk.

`target.options`:
  mode:          completion (default) | chat — which route; must match the payload's mode
                 (a completion-mode prompt is wrapped as one user message in chat mode)
  ignore_eos:    pass the payload's ignore_eos flag (default true; false for servers that
                 reject the vLLM extension field)
  include_usage: ask for the final usage chunk (default true); without it token counts
                 come from the stream (one content chunk ≈ one token)
  extra_body:    a mapping merged into every request body (e.g. {temperature: 0})

Timing: first_byte_ns is the first chunk carrying text (the first token, not the HTTP
headers); chunk_ns holds the arrival of every text-carrying chunk. A stream counts as a
success only if it ends with [DONE] after a finish_reason; anything else — EOF, a reset,
an `error` event mid-stream — is `truncated`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import orjson

from harness.clients.base import ClientOptions, Endpoint, clients
from harness.clients.errors import classify_exception
from harness.clients.exchange import cold_wait_ns
from harness.clients.sse import SseEvent, SseParser
from harness.contracts import ModelInfo, Payload, PromptSpec
from harness.records import NEVER, Outcome

ROUTES = {"completion": "/v1/completions", "chat": "/v1/chat/completions"}


class OpenAIOptions(ClientOptions):
    mode: Literal["completion", "chat"] | None = None  # None: the prompts payload's own mode
    ignore_eos: bool = True
    include_usage: bool = True
    extra_body: dict[str, Any] = {}


@clients.register("openai", args=OpenAIOptions)
class OpenAIClient:
    def __init__(self, endpoint: Endpoint) -> None:
        options = endpoint.options
        self.mode = options.mode or "completion"
        self.base_url = endpoint.base_url.rstrip("/")
        self.url = self.base_url + ROUTES[self.mode]
        self.model = endpoint.model
        self.pass_ignore_eos = options.ignore_eos
        self.include_usage = options.include_usage
        self.extra_body = dict(options.extra_body)
        self.headers = {"content-type": "application/json", **endpoint.headers}
        self.timeout = aiohttp.ClientTimeout(total=endpoint.timeout_s)

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo:
        """List the served models; with no model configured, use the first one listed."""
        async with session.get(self.base_url + "/v1/models", headers=self.headers, timeout=self.timeout) as response:
            response.raise_for_status()
            listing = await response.json()
        models = {m["id"]: m for m in listing.get("data", [])}
        if self.model is None and models:
            self.model = next(iter(models))
        served = models.get(self.model or "", {})
        return ModelInfo(parameters={"models": list(models), "max_model_len": served.get("max_model_len")})

    def encode(self, payload: Payload) -> bytes:
        spec = payload.data
        if not isinstance(spec, PromptSpec):
            raise TypeError(f"the openai client sends PromptSpec payloads (generator: prompts), not {type(spec).__name__}")
        body: dict[str, Any] = {"model": self.model, "max_tokens": spec.max_tokens, "stream": True, **self._content(spec)}
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        if spec.ignore_eos and self.pass_ignore_eos:
            body["ignore_eos"] = True
        return orjson.dumps(body | self.extra_body)

    def _content(self, spec: PromptSpec) -> dict[str, Any]:
        if self.mode == "chat":
            return {"messages": spec.messages or [{"role": "user", "content": spec.prompt or ""}]}
        if spec.prompt is None:
            raise ValueError("completion mode needs prompt payloads; set the openai target's mode: chat for messages")
        return {"prompt": spec.prompt}

    async def send(self, session: aiohttp.ClientSession, body: bytes) -> Outcome:
        stream = StreamState()
        try:
            async with session.post(self.url, data=body, headers=self.headers, timeout=self.timeout) as response:
                stream.version = response.headers.get("x-model-version")
                stream.cold_wait_ns = cold_wait_ns(response.headers.get("x-cold-start"))
                if not 200 <= response.status < 300:
                    return await _http_error(response)
                parser = SseParser()
                async for data in response.content.iter_any():
                    now = time.perf_counter_ns()
                    for event in parser.feed(data):
                        stream.take(event, now)
                for event in parser.close():
                    stream.take(event, time.perf_counter_ns())
                return stream.outcome(response.status, time.perf_counter_ns())
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record, never a crash
            status, kind = classify_exception(exc)
            return stream.failed(status, kind, time.perf_counter_ns(), type(exc).__name__)

    async def warm(self, connections: int) -> None:
        """Nothing to open: at LLM request rates aiohttp's lazy connections cost no schedule lag."""

    async def close(self) -> None:
        """Nothing to release: streams ride the runner's aiohttp session."""

    def stats(self) -> dict[str, int]:
        return {}  # aiohttp keeps its own connections


async def _http_error(response: aiohttp.ClientResponse) -> Outcome:
    headers_at = time.perf_counter_ns()
    raw = await response.read()
    detail = raw[:200].decode(errors="replace")
    version = response.headers.get("x-model-version")
    return Outcome(response.status, "http", headers_at, time.perf_counter_ns(), version, detail=detail)


@dataclass
class StreamState:
    """What a stream has shown so far; decides success only from what actually arrived."""

    version: str | None = None
    cold_wait_ns: int = NEVER  # x-cold-start: how long the server waited for a version scaled to zero
    chunk_ns: list[int] = field(default_factory=list)
    finish_ns: int = NEVER
    usage: dict[str, Any] | None = None
    done: bool = False
    problem: str | None = None  # an error event or a malformed chunk
    malformed: bool = False

    def take(self, event: SseEvent, now: int) -> None:
        if event.data == "[DONE]":
            self.done = True
            return
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            self.malformed, self.problem = True, "a chunk is not a JSON object"
            return
        if "error" in obj:
            self.problem = "error event mid-stream"
        self.usage = obj.get("usage") or self.usage
        for choice in obj.get("choices") or []:
            self._choice(choice, now)

    def _choice(self, choice: dict[str, Any], now: int) -> None:
        text = choice["text"] if "text" in choice else (choice.get("delta") or {}).get("content")
        if text:  # role-only preambles and empty deltas carry no token
            self.chunk_ns.append(now)
        if choice.get("finish_reason") and self.finish_ns == NEVER:
            self.finish_ns = now

    def outcome(self, status: int, done_ns: int) -> Outcome:
        if self.malformed:
            return self.failed(status, "invalid_response", done_ns, self.problem)
        if self.problem or not self.done or self.finish_ns == NEVER:
            return self.failed(status, "truncated", done_ns, self.problem or "stream ended before [DONE]")
        # A reply whose only token was EOS has no text chunk: its finish is its first token.
        chunks = self.chunk_ns or [self.finish_ns]
        prompt_tokens, output_tokens = self._tokens()
        return Outcome(status, None, chunks[0], done_ns, self.version, prompt_tokens, output_tokens, chunks,
                       cold_wait_ns=self.cold_wait_ns)

    def failed(self, status: int, kind: str, done_ns: int, detail: str | None) -> Outcome:
        first = self.chunk_ns[0] if self.chunk_ns else NEVER
        return Outcome(status, kind, first, done_ns, self.version, chunk_ns=self.chunk_ns or None, detail=detail)

    def _tokens(self) -> tuple[int, int]:
        if self.usage:
            return int(self.usage.get("prompt_tokens", NEVER)), int(self.usage.get("completion_tokens", NEVER))
        return NEVER, len(self.chunk_ns)

