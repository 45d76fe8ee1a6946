"""The protocol-client seam: a small Protocol and a registry.

A client turns a prepared payload into one HTTP exchange and reports an `Outcome`.
Clients receive payloads; they never generate them (the workload does). Preparation
(`encode`) happens before the run so the send loop pays only for I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import aiohttp

from harness.records import Outcome


@dataclass(frozen=True)
class Payload:
    """One unit of work from the workload: protocol-neutral data plus provenance."""

    payload_id: int
    data: Any  # tabular: np.ndarray rows; prompts: PromptSpec; file: dict
    drift_tag: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """Where and how to reach the system under test."""

    base_url: str
    model: str | None = None
    version: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    options: dict[str, Any] = field(default_factory=dict)  # protocol-specific knobs


@dataclass(frozen=True)
class ModelInfo:
    """What a client learned about the target (from metadata routes), for payload builders."""

    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)


class Client(Protocol):
    """One protocol. `send` must never raise for request failures: it returns an Outcome."""

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo: ...

    def encode(self, payload: Payload) -> bytes:
        """Everything the send needs, rendered before the run (for lean clients: the whole request)."""

    async def send(self, session: aiohttp.ClientSession, body: bytes) -> Outcome: ...

    async def warm(self, connections: int) -> None:
        """Open about this many connections before the run (the expected peak concurrency)."""

    async def close(self) -> None:
        """Release connections the client holds itself."""


@runtime_checkable
class CallbackClient(Client, Protocol):
    """A client that can also start an exchange without a task (the open loop's fast path)."""

    def start(self, body: bytes, on_outcome: Callable[[Outcome], None]) -> None:
        """Send now; `on_outcome` gets the Outcome exactly once, never an exception."""

    def abort(self) -> None:
        """End every started exchange now, each reporting `cancelled` (a run being stopped)."""


ClientFactory = Callable[[Endpoint], Client]
_CLIENTS: dict[str, ClientFactory] = {}


def register_client(name: str) -> Callable[[ClientFactory], ClientFactory]:
    def decorate(factory: ClientFactory) -> ClientFactory:
        _CLIENTS[name] = factory
        return factory

    return decorate


def make_client(name: str, endpoint: Endpoint) -> Client:
    try:
        factory = _CLIENTS[name]
    except KeyError:
        known = ", ".join(sorted(_CLIENTS))
        raise ValueError(f"unknown protocol {name!r}; known: {known}") from None
    return factory(endpoint)


def registered_clients() -> list[str]:
    return sorted(_CLIENTS)
