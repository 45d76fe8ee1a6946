"""A lean HTTP/1.1 keep-alive connection pool on asyncio transports, parsed by httptools.

Why by hand: aiohttp costs about 140 µs of CPU per request on these machines, which caps
one generator process near 7k req/s and makes it dearer per request than locust's
geventhttpclient. The open-loop hot path needs neither cookies, redirects, proxies nor
streaming: it writes pre-rendered request bytes to an idle keep-alive connection and lets
httptools (the C parser uvicorn uses) find the response. Streaming protocols (OpenAI SSE)
keep using aiohttp, where per-chunk timing matters more than per-request CPU.

An exchange reports through a callback (`Http1Pool.start`), so the open loop needs no task,
future or timer per request: those cost about 5 µs of the generator's ~45 µs here (a
call_later + cancel alone 1.9 µs on uvloop). Deadlines are checked by one sweep per pool
every 50 ms instead. The deadline itself is the judge: an answer that arrives after it is
a timeout, and every timeout is stamped at its deadline, however late the sweep found it.
A deadline runs from the moment of sending, connecting included, on both paths.

A keep-alive connection the server closed while it sat idle would fail its next request
with a reset the server did not cause. Before reusing a connection that idled long
enough for a server's keep-alive timeout (uvicorn's is 5 s), the pool peeks at it and
replaces it if the peer has closed; nothing was sent on it, so nothing is retried twice.
`stale_replaced` counts them.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from harness.records import NEVER

SWEEP_S = 0.05  # how often a pool looks for exchanges past their deadline
STALE_RISK_NS = 1_000_000_000  # idle longer than this and a connection is checked before reuse
IDLE_TROUBLE = select.POLLIN | select.POLLRDHUP | select.POLLHUP | select.POLLERR


class ResponseParseError(ValueError):
    """The peer sent bytes that are not an HTTP/1.1 response."""


class DeadlineExceeded(TimeoutError):
    """No complete answer by the deadline; `at_ns` is the deadline, the moment it timed out."""

    def __init__(self, at_ns: int) -> None:
        super().__init__("no complete answer before the deadline")
        self.at_ns = at_ns


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
    tls: ssl.SSLContext | None = None  # https: connections are wrapped by asyncio's SSL transport

    @classmethod
    def parse(cls, base_url: str, tls: ssl.SSLContext | None = None) -> Origin:
        """`tls` verifies an https:// origin (a CA bundle); None there means the system's CAs."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{base_url}: the lean client speaks http:// and https:// only")
        secure = parts.scheme == "https"
        context = (tls or ssl.create_default_context()) if secure else None
        return cls(parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80), parts.path.rstrip("/"), context)


def render_post(origin: Origin, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The complete request bytes, rendered once before the run."""
    lines = [f"POST {origin.path_prefix}{path} HTTP/1.1", f"host: {origin.host}:{origin.port}",
             f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self, pool: Http1Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.on_done: Done | None = None
        self.deadline_ns = 0
        self.idle_since_ns = time.perf_counter_ns()
        self.closed = False
        self._reset_response()

    def _reset_response(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.body_parts: list[bytes] = []
        self.first_byte_ns = NEVER
        self.complete = False
        self.keep_alive = False

    def begin(self, request: bytes, deadline_ns: int, on_done: Done) -> None:
        self._reset_response()
        self.on_done = on_done
        self.deadline_ns = deadline_ns
        self.transport.write(request)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.first_byte_ns == NEVER:
            self.first_byte_ns = time.perf_counter_ns()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(ResponseParseError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail(exc or ConnectionResetError("connection closed before the response completed"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        # httptools forgets keep-alive once the message is done: ask now
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True
        done_ns = time.perf_counter_ns()
        if done_ns > self.deadline_ns:
            self._settle(DeadlineExceeded(self.deadline_ns))
            return
        self._settle(Response(self.parser.get_status_code(), self.headers, b"".join(self.body_parts),
                              self.first_byte_ns, done_ns))

    def fail(self, exc: BaseException) -> None:
        """End the exchange in progress, if any, with `exc`."""
        self._settle(exc)

    def _settle(self, result: Response | BaseException) -> None:
        on_done, self.on_done = self.on_done, None
        if on_done is not None:
            self.pool.finished(self, result, on_done)

    @property
    def reusable(self) -> bool:
        return not self.closed and self.complete and self.keep_alive

    def peer_closed(self) -> bool:
        """Has the server closed this idle connection, or sent something unasked? One poll(2) of
        its socket, not waiting: an idle keep-alive connection has nothing to read."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is None:
            return False
        poller = select.poll()
        poller.register(sock.fileno(), IDLE_TROUBLE)
        return bool(poller.poll(0))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


# Gets the exchange's Response, or the exception that ended it; called exactly once.
Done = Callable[[Response | BaseException], None]


@dataclass
class Http1Pool:
    """Idle keep-alive connections to one origin; a new one opens whenever none is idle."""

    origin: Origin
    _idle: list[_Connection] = field(default_factory=list)
    _busy: set[_Connection] = field(default_factory=set)
    _connecting: set[asyncio.Task] = field(default_factory=set)
    _sweeper: asyncio.TimerHandle | None = None
    stale_replaced: int = 0  # idle connections found closed by the server before reuse

    def start(self, request: bytes, timeout_s: float, on_done: Done) -> None:
        """Send `request` now on an idle connection (or on a new one, once connected)."""
        deadline_ns = time.perf_counter_ns() + int(timeout_s * 1e9)
        connection = self._take_idle()
        if connection is not None:
            self._begin(connection, request, deadline_ns, on_done)
            return
        task = asyncio.get_running_loop().create_task(self._connect_then_begin(request, deadline_ns, on_done))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def request(self, request: bytes, timeout_s: float) -> Response:
        """The same exchange as a coroutine; cancelling it abandons the connection."""
        future = asyncio.get_running_loop().create_future()
        deadline_ns = time.perf_counter_ns() + int(timeout_s * 1e9)
        connection = self._take_idle() or await self._connect_by(deadline_ns)
        self._begin(connection, request, deadline_ns, lambda result: future.done() or future.set_result(result))
        try:
            result = await future
        except asyncio.CancelledError:
            connection.fail(asyncio.CancelledError())
            raise
        if isinstance(result, BaseException):
            raise result
        return result

    def finished(self, connection: _Connection, result: Response | BaseException, on_done: Done) -> None:
        self._busy.discard(connection)
        if isinstance(result, Response) and connection.reusable:
            connection.idle_since_ns = result.done_ns
            self._idle.append(connection)
        else:
            connection.close()
        on_done(result)

    def abort(self) -> None:
        """End every exchange in progress, each reporting CancelledError (a run being stopped)."""
        for task in list(self._connecting):
            task.cancel()
        for connection in list(self._busy):
            connection.fail(asyncio.CancelledError())

    async def prewarm(self, connections: int, timeout_s: float) -> None:
        """Open connections before the run, so no send pays for a TCP handshake in the loop."""
        opened = await asyncio.gather(*(self._connect(timeout_s) for _ in range(connections)), return_exceptions=True)
        self._idle.extend(c for c in opened if isinstance(c, _Connection))

    def _begin(self, connection: _Connection, request: bytes, deadline_ns: int, on_done: Done) -> None:
        self._busy.add(connection)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(SWEEP_S, self._sweep)
        try:
            connection.begin(request, deadline_ns, on_done)
        except Exception as exc:  # noqa: BLE001 - a failed write is this exchange's outcome
            connection.fail(exc)

    async def _connect_then_begin(self, request: bytes, deadline_ns: int, on_done: Done) -> None:
        try:
            connection = await self._connect_by(deadline_ns)
        except asyncio.CancelledError as exc:
            on_done(exc)
            raise
        except Exception as exc:  # noqa: BLE001 - a failed connect is this exchange's outcome
            on_done(exc)
            return
        self._begin(connection, request, deadline_ns, on_done)

    def _sweep(self) -> None:
        self._sweeper = None
        now = time.perf_counter_ns()
        for connection in [c for c in self._busy if c.deadline_ns <= now]:
            connection.fail(DeadlineExceeded(connection.deadline_ns))
        if self._busy:
            self._sweeper = asyncio.get_running_loop().call_later(SWEEP_S, self._sweep)

    def _take_idle(self) -> _Connection | None:
        now = time.perf_counter_ns()
        while self._idle:
            connection = self._idle.pop()  # most recently used first: least likely to have timed out
            if connection.closed:
                continue
            if now - connection.idle_since_ns > STALE_RISK_NS and connection.peer_closed():
                self.stale_replaced += 1
                connection.close()
                continue
            return connection
        return None

    async def _connect_by(self, deadline_ns: int) -> _Connection:
        """A new connection, or DeadlineExceeded (stamped at the deadline) if it takes too long."""
        try:
            return await self._connect(max(0.0, (deadline_ns - time.perf_counter_ns()) / 1e9))
        except TimeoutError:
            raise DeadlineExceeded(deadline_ns) from None

    async def _connect(self, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self), self.origin.host, self.origin.port, ssl=self.origin.tls,
                                   server_hostname=self.origin.host if self.origin.tls else None), timeout_s
        )
        return connection

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in self._idle:
            connection.close()
        self._idle.clear()
