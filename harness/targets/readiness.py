"""Readiness probes per protocol, shared by managed and external targets."""

from __future__ import annotations

import asyncio
import errno
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from harness.clients import oip_grpc

if TYPE_CHECKING:
    from harness.tls_trust import TlsTrust

READY_PATHS = {"oip-v2": "/v2/health/ready", "openai": "/v1/models", "http-json": "/"}
GRPC_READINESS = {oip_grpc.PROTOCOL: oip_grpc.readiness}  # protocols whose readiness is an RPC


class CertificateRefused(RuntimeError):
    """The server answered with a certificate the run does not trust: waiting will not change it."""


@dataclass(frozen=True)
class Probe:
    ready: bool
    answered: bool  # false: nothing answered at all (refused, reset, silent)
    detail: str  # the answer (`HTTP 503`), or why there was none, in the OS's words


Poll = Callable[[], Awaitable[Probe]]


async def probe(session: aiohttp.ClientSession, url: str, headers: dict[str, str], protocol: str) -> Probe:
    """One GET of the readiness path."""
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as response:
            await response.read()
            return Probe(ready_status(protocol, response.status), True, f"HTTP {response.status}")
    except aiohttp.ClientConnectorCertificateError as exc:
        raise CertificateRefused(f"{url}: {exc.certificate_error}") from None
    except TimeoutError:
        return Probe(False, False, "no answer within 2 s")
    except (aiohttp.ClientError, OSError) as exc:
        return Probe(False, False, _os_reason(exc))


def _os_reason(exc: Exception) -> str:
    """`Connection refused (ECONNREFUSED)` rather than aiohttp's `Connect call failed`; a TLS
    failure in OpenSSL's words (an SSLError's errno is OpenSSL's code, not the OS's)."""
    cause = getattr(exc, "os_error", exc)
    if isinstance(cause, ssl.SSLError):
        return str(cause)
    code = getattr(cause, "errno", None)
    if code in errno.errorcode:
        return f"{os.strerror(code)} ({errno.errorcode[code]})"
    return str(exc) or type(exc).__name__


def ready_status(protocol: str, status: int | None) -> bool:
    if status is None:
        return False
    if protocol == "http-json":
        return status < 500  # any answer proves an arbitrary JSON endpoint is up
    return status == 200


async def wait_ready(base_url: str, protocol: str, headers: dict[str, str], timeout_s: float, alive=lambda: True,
                     unreachable_s: float | None = None, tls: TlsTrust | None = None) -> float:
    """Poll until ready; returns seconds waited.

    Raises TimeoutError, RuntimeError if `alive()` turns false (CertificateRefused, one, when
    the certificate fails the check of `tls`, or of the system's CAs), ValueError for a URL the
    protocol cannot reach, or ConnectionError when nothing has answered at all for
    `unreachable_s`: an endpoint someone else runs that refuses every connection is a wrong
    address, not a slow start, and waiting out the ready timeout hides it."""
    start = time.perf_counter()
    answered = False
    async with _probe(base_url, protocol, headers, tls) as (where, poll):
        while True:
            result = await poll()
            if result.ready:
                return time.perf_counter() - start
            answered = answered or result.answered
            waited = time.perf_counter() - start
            if not alive():
                raise RuntimeError("the server process exited before it was ready")
            if not answered and unreachable_s is not None and waited > unreachable_s:
                raise ConnectionError(f"{where} unreachable for {waited:.1f}s: {result.detail}")
            if waited > timeout_s:
                raise TimeoutError(f"{where} not ready after {timeout_s:g}s (last answer: {result.detail})")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def _probe(base_url: str, protocol: str, headers: dict[str, str],
                 tls: TlsTrust | None) -> AsyncIterator[tuple[str, Poll]]:
    """What is polled (for messages) and the poll: an RPC's answer, or a GET's status."""
    if protocol in GRPC_READINESS:
        async with GRPC_READINESS[protocol](base_url, headers) as server_ready:
            async def rpc() -> Probe:
                ready, unanswered = await server_ready()
                return Probe(ready, unanswered is None, unanswered or f"ServerReady {str(ready).lower()}")

            yield f"{base_url} (ServerReady)", rpc
        return
    url = base_url.rstrip("/") + READY_PATHS[protocol]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls.context() if tls else True)) as session:
        async def get() -> Probe:
            return await probe(session, url, headers, protocol)

        yield url, get
