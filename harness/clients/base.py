"""The protocol-client seam: a small Protocol and a registry.

A client turns a prepared payload into one HTTP exchange and reports an `Outcome`.
Clients receive payloads; they never generate them (the workload does). Preparation
(`encode`) happens before the run so the send loop pays only for I/O.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import aiohttp
from pydantic import TypeAdapter

from harness.clients.signing import Credentials
from harness.contracts import ModelInfo, Payload
from harness.fields import Strict
from harness.records import Outcome
from slogate_common.registry import Registry


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach the system under test."""

    base_url: str
    model: str | None = None
    version: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    options: Any = field(default_factory=dict)  # the protocol's ClientOptions (a mapping before validation)
    credentials: Credentials | None = None  # the run's API key and signing secret (target.auth)
    tls: ssl.SSLContext | None = None  # how an https:// target is verified (target.tls); None: the system's CAs

    def headers_for(self, method: str, url: str) -> dict[str, str]:
        """The headers of a body-less call (metadata): signed afresh for each call, since the
        server refuses a nonce it has seen."""
        signed = self.credentials.headers_for_url(method, url) if self.credentials else {}
        return self.headers | signed


class Client(Protocol):
    """One protocol. `send` must never raise for request failures: it returns an Outcome."""

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo: ...

    def encode(self, payload: Payload) -> Any:
        """Everything the send needs, rendered before the run (for lean clients: the whole request):
        bytes for the HTTP clients, whatever the client's own `send` takes for others."""

    async def send(self, session: aiohttp.ClientSession, body: Any) -> Outcome: ...

    async def warm(self, connections: int) -> None:
        """Open about this many connections before the run (the expected peak concurrency)."""

    async def close(self) -> None:
        """Release connections the client holds itself."""

    def stats(self) -> dict[str, int]:
        """The transport's own counts for the run's load section (e.g. stale connections replaced)."""


@runtime_checkable
class CallbackClient(Client, Protocol):
    """A client that can also start an exchange without a task (the open loop's fast path)."""

    def start(self, body: bytes, on_outcome: Callable[[Outcome], None]) -> None:
        """Send now; `on_outcome` gets the Outcome exactly once, never an exception."""

    def abort(self) -> None:
        """End every started exchange now, each reporting `cancelled` (a run being stopped)."""


class ClientOptions(Strict):
    """A protocol's `target.options`; each client declares its own."""


ClientFactory = Callable[[Endpoint], Client]
clients: Registry[ClientFactory] = Registry("protocol", builtins="harness.plugins")


def make_client(name: str, endpoint: Endpoint) -> Client:
    """The client for a protocol; `endpoint.options` may be a mapping or the validated options."""
    entry = clients.entry(name)
    options = TypeAdapter(entry.args).validate_python(endpoint.options)
    return entry.value(replace(endpoint, options=options))
