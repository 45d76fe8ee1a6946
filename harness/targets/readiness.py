"""Readiness probes per protocol, shared by managed and external targets."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from dataclasses import dataclass

import aiohttp

READY_PATHS = {"oip-v2": "/v2/health/ready", "openai": "/v1/models", "http-json": "/"}


@dataclass(frozen=True)
class Probe:
    status: int | None  # None: nothing answered
    error: str = ""  # why nothing answered, in the OS's words


async def probe(session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Probe:
    """One GET of the readiness path."""
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=2)) as response:
            await response.read()
            return Probe(response.status)
    except TimeoutError:
        return Probe(None, "no answer within 2 s")
    except (aiohttp.ClientError, OSError) as exc:
        return Probe(None, _os_reason(exc))


def _os_reason(exc: Exception) -> str:
    """`Connection refused (ECONNREFUSED)` rather than aiohttp's `Connect call failed`."""
    cause = getattr(exc, "os_error", exc)
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
                     unreachable_s: float | None = None) -> float:
    """Poll until ready; returns seconds waited.

    Raises TimeoutError, RuntimeError if `alive()` turns false, or ConnectionError when nothing
    has answered at all for `unreachable_s`: an endpoint someone else runs that refuses every
    connection is a wrong address, not a slow start, and waiting out the ready timeout hides it."""
    url = base_url.rstrip("/") + READY_PATHS[protocol]
    start = time.perf_counter()
    answered = False
    async with aiohttp.ClientSession() as session:
        while True:
            result = await probe(session, url, headers)
            if ready_status(protocol, result.status):
                return time.perf_counter() - start
            answered = answered or result.status is not None
            waited = time.perf_counter() - start
            if not alive():
                raise RuntimeError("the server process exited before it was ready")
            if not answered and unreachable_s is not None and waited > unreachable_s:
                raise ConnectionError(f"{url} unreachable for {waited:.1f}s: {result.error}")
            if waited > timeout_s:
                raise TimeoutError(f"{url} not ready after {timeout_s:g}s (last answer: {_last_answer(result)})")
            await asyncio.sleep(0.1)


def _last_answer(result: Probe) -> str:
    return f"HTTP {result.status}" if result.status is not None else result.error
