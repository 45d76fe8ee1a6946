"""A lean HTTP/1.1 keep-alive connection pool on asyncio transports, parsed by httptools.

Why by hand: aiohttp costs about 140 µs of CPU per request on these machines, which caps
one generator process near 7k req/s and makes it dearer per request than locust's
geventhttpclient. The open-loop hot path needs neither cookies, redirects, proxies nor
streaming: it writes pre-rendered request bytes to an idle keep-alive connection and lets
httptools (the C parser uvicorn uses) find the response. Streaming protocols (OpenAI SSE)
keep using aiohttp, where per-chunk timing matters more than per-request CPU.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from harness.records import NEVER


class ResponseParseError(ValueError):
    """The peer sent bytes that are not an HTTP/1.1 response."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    first_byte_ns: int
    done_ns: int


@dataclass
class Origin:
    host: str
    port: int
    path_prefix: str

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        parts = urlsplit(base_url)
        if parts.scheme != "http":
            raise ValueError(f"{base_url}: the lean client speaks plain http:// only")
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/"))


def render_post(origin: Origin, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The complete request bytes, rendered once before the run."""
    lines = [f"POST {origin.path_prefix}{path} HTTP/1.1", f"host: {origin.host}:{origin.port}",
             f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.future: asyncio.Future | None = None
        self.closed = False
        self._reset_response()

    def _reset_response(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.body_parts: list[bytes] = []
        self.first_byte_ns = NEVER
        self.complete = False
        self.keep_alive = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.first_byte_ns == NEVER:
            self.first_byte_ns = time.perf_counter_ns()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ResponseParseError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed before the response completed"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        # httptools forgets keep-alive once the message is done: ask now
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True
        future = self.future
        if future is not None and not future.done():
            response = Response(self.parser.get_status_code(), self.headers, b"".join(self.body_parts),
                                self.first_byte_ns, time.perf_counter_ns())
            future.set_result(response)

    def _fail(self, exc: BaseException) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_exception(exc)

    async def exchange(self, request: bytes, timeout_s: float) -> Response:
        self._reset_response()
        loop = asyncio.get_running_loop()
        self.future = loop.create_future()
        self.transport.write(request)
        # a plain timer is cheaper per request than asyncio.wait_for's wrapper
        deadline = loop.call_later(timeout_s, self._fail, TimeoutError())
        try:
            return await self.future
        finally:
            deadline.cancel()
            self.future = None

    @property
    def reusable(self) -> bool:
        return not self.closed and self.complete and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@dataclass
class Http1Pool:
    """Idle keep-alive connections to one origin; a new one opens whenever none is idle."""

    origin: Origin
    _idle: list[_Connection] = field(default_factory=list)

    async def request(self, request: bytes, timeout_s: float) -> Response:
        connection = self._take_idle() or await self._connect(timeout_s)
        try:
            response = await connection.exchange(request, timeout_s)
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
        return response

    async def prewarm(self, connections: int, timeout_s: float) -> None:
        """Open connections before the run, so no send pays for a TCP handshake in the loop."""
        opened = await asyncio.gather(*(self._connect(timeout_s) for _ in range(connections)), return_exceptions=True)
        self._idle.extend(c for c in opened if isinstance(c, _Connection))

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # most recently used first: least likely to have timed out
            if not connection.closed:
                return connection
        return None

    async def _connect(self, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(
            loop.create_connection(_Connection, self.origin.host, self.origin.port), timeout_s
        )
        return connection

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
