"""OpenAI-compatible routes over any GenerativeBackend: completions, chat completions, models.

`openai_routes(resolve, models, decorate)` returns plain Starlette routes, so the server
mounts them behind its own auth, metrics and fault middleware. Streaming follows OpenAI:
`data: {chunk}` events, a final usage-only chunk when `stream_options.include_usage`, then
`data: [DONE]`. A failure after the stream began is sent as an `error` event and the
stream ends *without* [DONE], so clients can tell it from a complete answer.
Request bodies and generated text never reach the logs.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from reference_server.backends.generative import GenerationChunk, GenerationRequest
from reference_server.errors import RequestError

log = logging.getLogger(__name__)


class RouteBackend(Protocol):
    """What the routes need of a backend; every GenerativeBackend is one."""

    @property
    def max_model_len(self) -> int: ...

    def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]: ...


Resolve = Callable[[str], RouteBackend | None]
Decorate = Callable[[Request, RouteBackend, Response], None]
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ParsedRequest:
    model: str
    generation: GenerationRequest
    stream: bool
    include_usage: bool


def openai_routes(
    resolve: Resolve, models: Callable[[], Iterable[str]], decorate: Decorate | None = None
) -> list[Route]:
    """`resolve(name)` picks the backend for a request (None → 404); `models()` lists names;
    `decorate(request, backend, response)` adds headers such as x-model-version."""
    api = _OpenAI(resolve, models, decorate)
    return [
        Route("/v1/completions", api.completions, methods=["POST"]),
        Route("/v1/chat/completions", api.chat_completions, methods=["POST"]),
        Route("/v1/models", api.list_models, methods=["GET"]),
    ]


def error_response(status: int, message: str, field: str | None = None) -> Response:
    """The server's one error shape, as /v2 and /admin answer it: `field` is null where no field is to blame."""
    return Response(orjson.dumps({"error": message, "field": field}), status_code=status, media_type="application/json")


class _OpenAI:
    def __init__(self, resolve: Resolve, models: Callable[[], Iterable[str]], decorate: Decorate | None) -> None:
        self.resolve = resolve
        self.models = models
        self.decorate = decorate

    async def completions(self, request: Request) -> Response:
        return await self._serve(request, chat=False)

    async def chat_completions(self, request: Request) -> Response:
        return await self._serve(request, chat=True)

    async def list_models(self, request: Request) -> Response:
        data = []
        for name in self.models():
            backend = self.resolve(name)
            if backend is not None:
                data.append({"id": name, "object": "model", "owned_by": "slogate", "max_model_len": backend.max_model_len})
        return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")

    async def _serve(self, request: Request, *, chat: bool) -> Response:
        try:
            parsed = parse_request(await _json_body(request), chat=chat)
            backend = self.resolve(parsed.model)
            if backend is None:
                raise RequestError(404, f"unknown model {parsed.model!r}", "model")
            response = await _respond(backend, parsed, chat)
        except RequestError as exc:  # invalid body, unknown model, a backend's InvalidGeneration
            return error_response(exc.status, exc.error, exc.field)
        except Exception as exc:  # noqa: BLE001 - the backend failed before any byte was sent: a clean 500
            log.warning("generation failed: %s", type(exc).__name__)
            return error_response(500, "generation failed")
        if self.decorate is not None:
            self.decorate(request, backend, response)
        return response


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise RequestError(400, "body is not valid JSON", "body") from None
    if not isinstance(body, dict):
        raise RequestError(400, "body must be a JSON object", "body")
    return body


async def _respond(backend: RouteBackend, parsed: ParsedRequest, chat: bool) -> Response:
    chunks = backend.generate(parsed.generation)
    # Wait for the first chunk before answering, so a request the backend rejects
    # (InvalidGeneration: prompt too long) gets a 4xx instead of a 200 stream that fails.
    first = await anext(chunks)
    view = _View(parsed, chat, created=int(time.time()))
    if parsed.stream:
        return StreamingResponse(
            _sse(view, first, chunks), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
    return Response(orjson.dumps(await _collect(view, first, chunks)), media_type="application/json")


async def _collect(view: _View, first: GenerationChunk, chunks: AsyncIterator[GenerationChunk]) -> dict[str, Any]:
    parts = [first.text]
    last = first
    async with aclosing(chunks):
        async for chunk in chunks:
            parts.append(chunk.text)
            last = chunk
    return view.whole("".join(parts), last)


async def _sse(view: _View, first: GenerationChunk, chunks: AsyncIterator[GenerationChunk]) -> AsyncIterator[bytes]:
    # aclosing: when the client disconnects Starlette stops this body, and closing the
    # backend's iterator aborts the generation instead of leaving it running.
    async with aclosing(chunks):
        if view.chat:
            yield _event(view.delta_chunk({"role": "assistant", "content": ""}, None))
        last = first
        try:
            async for chunk in _prepend(first, chunks):
                last = chunk
                # Skip empty deltas (bytes of a split UTF-8 character): no visible token yet.
                if chunk.text or chunk.finish_reason is not None:
                    yield _event(view.text_chunk(chunk.text, chunk.finish_reason))
        except Exception as exc:  # noqa: BLE001 - too late for a status: tell the client in-band
            log.warning("generation failed mid-stream: %s", type(exc).__name__)
            yield _event({"error": {"message": "generation failed", "type": "server_error"}})
            return
        if view.parsed.include_usage:
            yield _event(view.usage_chunk(last))
        yield b"data: [DONE]\n\n"


async def _prepend(first: GenerationChunk, rest: AsyncIterator[GenerationChunk]) -> AsyncIterator[GenerationChunk]:
    yield first
    async for chunk in rest:
        yield chunk


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@dataclass(frozen=True)
class _View:
    """Shapes OpenAI response objects for one request (completion or chat flavour)."""

    parsed: ParsedRequest
    chat: bool
    created: int

    @property
    def _header(self) -> dict[str, Any]:
        return {"id": self.parsed.generation.request_id, "created": self.created, "model": self.parsed.model}

    def text_chunk(self, text: str, finish: str | None) -> dict[str, Any]:
        if self.chat:
            return self.delta_chunk({"content": text}, finish)
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
        return {**self._header, "object": "text_completion", "choices": [choice]}

    def delta_chunk(self, delta: dict[str, str], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._header, "object": "chat.completion.chunk", "choices": [choice]}

    def usage_chunk(self, last: GenerationChunk) -> dict[str, Any]:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return {**self._header, "object": kind, "choices": [], "usage": _usage(last)}

    def whole(self, text: str, last: GenerationChunk) -> dict[str, Any]:
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None}
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "logprobs": None}
            kind = "text_completion"
        choice["finish_reason"] = last.finish_reason
        return {**self._header, "object": kind, "choices": [choice], "usage": _usage(last)}


def _usage(last: GenerationChunk) -> dict[str, int]:
    return {
        "prompt_tokens": last.prompt_tokens,
        "completion_tokens": last.output_tokens,
        "total_tokens": last.prompt_tokens + last.output_tokens,
    }


# --- validation -------------------------------------------------------------------------


def parse_request(body: dict[str, Any], *, chat: bool) -> ParsedRequest:
    """Validate an OpenAI request body; raise RequestError(400, ..., field) on the first problem."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model must be a non-empty string", "model")
    if body.get("n", 1) != 1:
        raise RequestError(400, "only n=1 is supported", "n")
    prefix = "chatcmpl" if chat else "cmpl"
    text = {"messages": _messages(body)} if chat else {"prompt": _prompt(body)}
    max_tokens = body.get("max_completion_tokens") if chat and "max_completion_tokens" in body else body.get("max_tokens")
    generation = GenerationRequest(
        request_id=f"{prefix}-{uuid.uuid4().hex}",
        max_tokens=_optional_int(max_tokens, "max_tokens", minimum=1),
        temperature=_number(body.get("temperature", 1.0), "temperature", 0.0, 2.0),
        top_p=_number(body.get("top_p", 1.0), "top_p", 1e-9, 1.0),
        seed=_optional_int(body.get("seed"), "seed", minimum=None),
        stop=_stop(body.get("stop")),
        ignore_eos=_bool(body.get("ignore_eos", False), "ignore_eos"),
        **text,
    )
    stream = _bool(body.get("stream", False), "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError(400, "stream_options must be an object", "stream_options")
    include_usage = _bool(options.get("include_usage", False), "stream_options.include_usage")
    return ParsedRequest(model, generation, stream, include_usage)


def _prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]  # OpenAI allows a batch; one prompt per request is all we serve
    if not isinstance(prompt, str):
        raise RequestError(400, "prompt must be a string (batched or token-id prompts are not supported)", "prompt")
    return prompt


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "messages must be a non-empty list", "messages")
    return [_message(m, i) for i, m in enumerate(messages)]


def _message(message: Any, i: int) -> dict[str, str]:
    field = f"messages[{i}]"
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise RequestError(400, f"each message needs a role in {ROLES}", f"{field}.role")
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text parts are meaningful here
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
            raise RequestError(400, "only text content parts are supported", f"{field}.content")
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise RequestError(400, "content must be a string", f"{field}.content")
    return {"role": message["role"], "content": content}


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and all(isinstance(s, str) and s for s in value):
        return tuple(value)
    raise RequestError(400, "stop must be a string or a list of non-empty strings", "stop")


def _optional_int(value: Any, field: str, *, minimum: int | None) -> int | None:
    if value is None:
        return None
    # bool is an int subclass; `true` is not a token count.
    if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise RequestError(400, f"{field} must be an integer{bound}", field)
    return value


def _number(value: Any, field: str, low: float, high: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise RequestError(400, f"{field} must be a number in [{low:g}, {high:g}]", field)
    return float(value)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise RequestError(400, f"{field} must be true or false", field)
    return value
