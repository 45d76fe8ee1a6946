"""Minimal raw-ASGI plumbing for the hot path: read a bounded body, send a JSON response."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from .errors import RequestError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class ClientDisconnected(Exception):
    pass


def client_gone(receive: Receive) -> Callable[[], bool]:
    """A cheap "has this request's client hung up?", asked before the model runs it.

    Why ask: a client that gave up (a timeout, a cancelled call) no longer wants the answer, and
    computing it anyway delays everyone still waiting; after a stall, a queue of such requests
    is how a server stays overloaded once the cause is gone (RELIABILITY.md). ASGI can only tell
    through receive(), which needs a watcher task a request: measured here at +5% server CPU
    a request on the fraud model. uvicorn's request cycle (httptools and h11 alike) keeps the
    answer in its `disconnected` flag, read here where it exists. Under another server (Ray
    Serve's replicas) the answer is always no, and nothing is dropped."""
    cycle = getattr(receive, "__self__", None)
    if not isinstance(getattr(cycle, "disconnected", None), bool):
        return never
    return lambda: cycle.disconnected  # type: ignore[union-attr]


def never() -> bool:
    return False


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (413) past `limit` bytes without keeping more than that."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(receive, {"more_body": True})
        raise _too_large(limit)
    message = await receive()
    chunks, size = [], 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _drain(receive, message)
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
        message = await receive()


DRAIN_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 5.0


async def _drain(receive: Receive, message: Message) -> None:
    """Read and drop the rest of a refused body, a bounded amount for a bounded time.

    Clients such as urllib and requests send the whole body before they read any answer; if
    the server answers and closes while that body is still arriving, the kernel resets the
    connection and the client never sees the 413. nginx's lingering close reads on for the same
    reason. The 413 closes the connection whether or not the drain finished."""
    dropped = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while message.get("more_body") and dropped < DRAIN_BYTES:
                message = await receive()
                dropped += len(message.get("body", b""))
    except TimeoutError:
        pass


def _too_large(limit: int) -> RequestError:
    return RequestError(413, f"body larger than {limit} bytes", None, headers={"connection": "close"})


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that yields the already-read body once, then defers to the real one."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


async def send_bytes(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_bytes(send, status, orjson.dumps(payload), JSON_HEADERS + (extra or []))


async def send_error(send: Send, error: RequestError) -> None:
    extra = [(k.encode(), v.encode()) for k, v in error.headers.items()]
    await send_json(send, error.status, error.body(), extra)
