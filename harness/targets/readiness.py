"""Readiness probes per protocol, shared by managed and external targets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp

from harness.clients import oip_grpc

READY_PATHS = {"oip-v2": "/v2/health/ready", "openai": "/v1/models", "http-json": "/"}
GRPC_READINESS = {oip_grpc.PROTOCOL: oip_grpc.readiness}  # protocols whose readiness is an RPC

Ready = Callable[[], Awaitable[bool]]


async def probe(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int | None:
    """The status of one GET, or None when nothing answered."""
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as response:
            await response.read()
            return response.status
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None


def ready_status(protocol: str, status: int | None) -> bool:
    if status is None:
        return False
    if protocol == "http-json":
        return status < 500  # any answer proves an arbitrary JSON endpoint is up
    return status == 200


async def wait_ready(base_url: str, protocol: str, headers: dict[str, str], timeout_s: float, alive=lambda: True) -> float:
    """Poll until ready; returns seconds waited. Raises TimeoutError, or RuntimeError if `alive()` turns false
    (and ValueError for a URL the protocol cannot reach)."""
    start = time.perf_counter()
    async with _probe(base_url, protocol, headers) as (where, ready):
        while True:
            if await ready():
                return time.perf_counter() - start
            if not alive():
                raise RuntimeError("the server process exited before it was ready")
            if time.perf_counter() - start > timeout_s:
                raise TimeoutError(f"{where} not ready after {timeout_s:g}s")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def _probe(base_url: str, protocol: str, headers: dict[str, str]) -> AsyncIterator[tuple[str, Ready]]:
    """What is polled (for messages) and the poll: an RPC's answer, or a GET's status."""
    if protocol in GRPC_READINESS:
        async with GRPC_READINESS[protocol](base_url, headers) as ready:
            yield f"{base_url} (ServerReady)", ready
        return
    url = base_url.rstrip("/") + READY_PATHS[protocol]
    async with aiohttp.ClientSession() as session:
        async def ready() -> bool:
            return ready_status(protocol, await probe(session, url, headers))

        yield url, ready
