"""The fault proxy: a listener that forwards each connection it accepts to one upstream
host:port, through the toxics active for each direction.

Every connection gets an upstream socket and two pumps, upstream (client → server) and
downstream (server → client). A pump with no toxic writes what it reads straight into the
other socket from the read callback (one read, one write) and stops reading while that
socket's write buffer is full. A pump with toxics queues each chunk, stamped with its
arrival, for a task that runs it through the stages in the order the toxics were added.
Toxics added or removed at run time reach open connections too: the load generator keeps
its connections alive for the whole run.
"""

from __future__ import annotations

import asyncio
import errno
import random
import socket
import struct
from collections import deque
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from harness.netfault.toxics import Stage, Toxic

DEFAULT_HOST = "127.0.0.1"
BACKLOG_LIMIT = 256 * 1024  # bytes queued for a pump's stages before it stops reading its source
DIAL_TIMEOUT_S = 10.0
LINGER_ZERO = struct.pack("ii", 1, 0)  # close() then sends an RST and drops what is unsent


class Conflict(Exception):
    """A name or a port that is taken."""


def parse_address(text: str) -> tuple[str, int]:
    """`host:port` (`[v6]:port`; an empty host is loopback, not every interface)."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not host:port")
    return host.strip("[]") or DEFAULT_HOST, int(port)


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class ProxyStats:
    connections: int = 0  # accepted since the proxy was created
    upstream_bytes: int = 0  # delivered to the upstream server
    downstream_bytes: int = 0  # delivered to clients
    resets: int = 0  # connections a reset_peer toxic reset


class Proxy:
    """One named listener and the connections it forwards to `upstream`."""

    def __init__(self, name: str, listen: str, upstream: str, *, rng: random.Random | None = None) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.upstream_address = parse_address(upstream)
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}  # in the order they were added: the order they act in
        self.rng = rng or random.Random()
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[Connection] = set()
        self._closed = ProxyStats()  # what connections that are gone added up to

    async def start(self) -> None:
        if self._server is not None:
            return
        host, port = parse_address(self.listen)
        try:
            self._server = await asyncio.get_running_loop().create_server(self._accept, host, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Conflict(f"proxy port {format_address(host, port)} is in use (address already in use)") from None
            raise
        self.listen = format_address(host, self._server.sockets[0].getsockname()[1])
        self.enabled = True

    async def stop(self) -> None:
        """Close the listener and every connection it accepted."""
        server, self._server = self._server, None
        self.enabled = False
        for connection in list(self._connections):
            connection.close()
        if server is not None:
            server.close()
            await server.wait_closed()

    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self.toxics:
            raise Conflict(f"toxic {toxic.name!r} already exists")
        self.toxics[toxic.name] = toxic
        for connection in self._connections:
            connection.attach(toxic)

    def remove_toxic(self, name: str) -> Toxic | None:
        toxic = self.toxics.pop(name, None)
        if toxic is not None:
            for connection in list(self._connections):
                connection.detach(toxic)
        return toxic

    def to_api(self) -> dict[str, Any]:
        """Toxiproxy's JSON shape of a proxy."""
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream, "enabled": self.enabled,
                "toxics": [toxic.to_api() for toxic in self.toxics.values()]}

    def stats(self) -> dict[str, int]:
        live = list(self._connections)
        totals = asdict(self._closed)
        totals["upstream_bytes"] += sum(c.up.bytes for c in live if c.up)
        totals["downstream_bytes"] += sum(c.down.bytes for c in live if c.down)
        return {**totals, "active": len(live)}

    def _accept(self) -> asyncio.Protocol:
        connection = Connection(self)
        self._connections.add(connection)
        self._closed.connections += 1
        return connection.client

    def _forget(self, connection: Connection, *, reset: bool) -> None:
        self._connections.discard(connection)
        self._closed.upstream_bytes += connection.up.bytes if connection.up else 0
        self._closed.downstream_bytes += connection.down.bytes if connection.down else 0
        self._closed.resets += reset


class Connection:
    """One proxied connection: the client's socket, the upstream one, a pump each way.
    It is the `Link` a toxic's stage may close or reset."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.rng = proxy.rng
        self.closed = False
        self.client = _Side(self, self._client_made)
        self.server = _Side(self, self._server_made)
        self.up: Pump | None = None
        self.down: Pump | None = None
        self._dial: asyncio.Task | None = None
        self._early: _Dialling | None = None

    def _client_made(self, transport: asyncio.Transport) -> None:
        self._early = self.client.feeds = _Dialling(transport)
        self._dial = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        host, port = self.proxy.upstream_address
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: self.server, host, port), DIAL_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.close()  # as Toxiproxy does: the client sees its connection closed

    def _server_made(self, transport: asyncio.Transport) -> None:
        # wired here, in the transport's first callback, so no byte can arrive before its pump
        client, early = self.client.transport, self._early
        if self.closed or client is None or early is None:
            transport.close()
            return
        self.up = self.client.feeds = self.server.fed_by = Pump(self, client, transport)
        self.down = self.server.feeds = self.client.fed_by = Pump(self, transport, client)
        for toxic in self.proxy.toxics.values():
            self.attach(toxic)
        early.hand_over(self.up)

    def attach(self, toxic: Toxic) -> None:
        pump = self.up if toxic.stream == "upstream" else self.down
        if pump is not None:  # still dialling: `_server_made` attaches every toxic there is then
            pump.attach(toxic)

    def detach(self, toxic: Toxic) -> None:
        pump = self.up if toxic.stream == "upstream" else self.down
        if pump is not None:
            pump.detach(toxic.name)

    def half_closed(self) -> None:
        if self.up and self.down and self.up.finished and self.down.finished:
            self.close()

    def close(self) -> None:
        """Close both sockets once what was written to them is sent."""
        self._shut(reset=False)

    def reset(self) -> None:
        """Reset both sockets: each peer gets an RST, and what is unsent is dropped."""
        if self.closed:
            return
        for side in (self.client, self.server):
            sock = side.transport.get_extra_info("socket") if side.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_ZERO)
        self._shut(reset=True)

    def _shut(self, *, reset: bool) -> None:
        if self.closed:
            return
        self.closed = True
        if self._dial is not None:
            self._dial.cancel()
        for pump in (self.up, self.down):
            if pump is not None:
                pump.stop()
        for side in (self.client, self.server):
            if side.transport is None:
                continue
            if reset:
                side.transport.abort()
            else:
                side.transport.close()
        self.proxy._forget(self, reset=reset)


class _Dialling:
    """Takes the client's first bytes while the upstream socket is being dialled (a new
    transport reads from the start, whatever its protocol asks in connection_made) and
    stops reading more until the upstream pump takes them over."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._chunks: list[bytes] = []
        self._ended = False

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._transport.pause_reading()

    def feed_eof(self) -> None:
        self._ended = True

    def hand_over(self, pump: Pump) -> None:
        for chunk in self._chunks:
            pump.feed(chunk)
        if self._ended:
            pump.feed_eof()
        elif self._chunks:
            self._transport.resume_reading()


class _Side(asyncio.Protocol):
    """One socket of a connection: what it reads `feeds` one pump; the pump it is `fed_by`
    pauses while this socket's write buffer is full."""

    def __init__(self, connection: Connection, on_made) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.feeds: Pump | _Dialling | None = None
        self.fed_by: Pump | None = None
        self._on_made = on_made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_made(transport)

    def data_received(self, data: bytes) -> None:
        self.feeds.feed(data)

    def eof_received(self) -> bool:
        self.feeds.feed_eof()
        return True  # half-closed: the other direction goes on until it ends too

    def pause_writing(self) -> None:
        self.fed_by.pause_writing()

    def resume_writing(self) -> None:
        self.fed_by.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection.close()


def _settle(future: asyncio.Future | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class Pump:
    """One direction of a connection: what `source` reads, written to `dest`."""

    def __init__(self, connection: Connection, source: asyncio.Transport, dest: asyncio.Transport) -> None:
        self._connection = connection
        self._source = source
        self._dest = dest
        self._loop = asyncio.get_running_loop()
        self.bytes = 0  # delivered to dest
        self.finished = False  # the end of the stream has been passed on
        self._stages: dict[str, Stage] = {}
        self._chain: tuple[Stage, ...] = ()  # replaced, never changed: a chunk in flight keeps its own
        self._backlog: deque[tuple[bytes, float] | None] = deque()  # None: the end of the stream
        self._queued = 0
        self._task: asyncio.Task | None = None
        self._direct = True  # no stages and nothing queued: write from the read callback
        self._source_ended = False
        self._dest_full = False
        self._reading = True
        self._writable: asyncio.Future | None = None

    def feed(self, data: bytes) -> None:
        if self._direct:
            self._dest.write(data)
            self.bytes += len(data)
            return
        self._backlog.append((data, self._loop.time()))
        self._queued += len(data)
        self._kick()

    def feed_eof(self) -> None:
        self._source_ended = True
        if self._direct:
            self._finish()
        else:
            self._backlog.append(None)
            self._kick()

    def attach(self, toxic: Toxic) -> None:
        if self._connection.rng.random() >= toxic.toxicity:
            return  # drawn once: this connection is spared by this toxic
        stage = toxic.start(self._connection)
        self._stages[toxic.name] = stage
        self._chain = (*self._chain, stage)
        self._direct = False

    def detach(self, name: str) -> None:
        stage = self._stages.pop(name, None)
        if stage is None:
            return
        self._chain = tuple(s for s in self._chain if s is not stage)
        self._direct = not self._chain and self._task is None
        stage.remove()

    def pause_writing(self) -> None:
        self._dest_full = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._dest_full = False
        self._update_reading()
        _settle(self._writable)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for stage in self._stages.values():
            stage.stop()

    def _kick(self) -> None:
        self._update_reading()
        if self._task is None:
            self._task = self._loop.create_task(self._drain())

    def _update_reading(self) -> None:
        # after the source's EOF a resume would re-arm a reader that reports the EOF again
        want = not self._dest_full and self._queued < BACKLOG_LIMIT
        if want == self._reading or self._source_ended or self._source.is_closing():
            return
        self._reading = want
        if want:
            self._source.resume_reading()
        else:
            self._source.pause_reading()

    async def _drain(self) -> None:
        try:
            while self._backlog and not self._connection.closed:
                item = self._backlog.popleft()
                if item is None:
                    await self._eof_from(self._chain, 0)
                    continue
                self._queued -= len(item[0])
                self._update_reading()
                await self._data_from(self._chain, 0, *item)
        finally:
            self._task = None
            self._direct = not self._chain

    async def _data_from(self, chain: tuple[Stage, ...], i: int, chunk: bytes, at: float) -> None:
        while i < len(chain) and chain[i].removed:
            i += 1
        if i == len(chain):
            await self._write(chunk)
        else:
            await chain[i].data(chunk, at, partial(self._data_from, chain, i + 1))

    async def _eof_from(self, chain: tuple[Stage, ...], i: int) -> None:
        while i < len(chain) and chain[i].removed:
            i += 1
        if i == len(chain):
            self._finish()
        else:
            await chain[i].eof(partial(self._eof_from, chain, i + 1))

    async def _write(self, chunk: bytes) -> None:
        if self._connection.closed:
            return
        self._dest.write(chunk)
        self.bytes += len(chunk)
        if self._dest_full:
            self._writable = self._loop.create_future()
            await self._writable
            self._writable = None

    def _finish(self) -> None:
        if self.finished or self._connection.closed:
            return
        self.finished = True
        if self._dest.can_write_eof() and not self._dest.is_closing():
            self._dest.write_eof()
        self._connection.half_closed()
