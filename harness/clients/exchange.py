"""One non-streaming HTTP exchange, timed with perf_counter_ns; shared by oip-v2 and http-json."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from harness.clients.errors import classify_exception
from harness.records import NEVER, Outcome

# Reads the response body; returns the model version it names, or raises ValueError when
# the body is not a valid answer (which the record counts as `invalid_response`).
BodyCheck = Callable[[bytes], str | None]


async def post_exchange(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: aiohttp.ClientTimeout,
    check: BodyCheck,
) -> Outcome:
    first_byte = NEVER
    try:
        async with session.post(url, data=body, headers=headers, timeout=timeout) as response:
            first_byte = time.perf_counter_ns()
            raw = await response.read()
            done = time.perf_counter_ns()
            return _judge(response, raw, first_byte, done, check)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a record, never a crash
        status, kind = classify_exception(exc)
        return Outcome(status, kind, first_byte, time.perf_counter_ns(), detail=type(exc).__name__)


def _judge(response: aiohttp.ClientResponse, raw: bytes, first_byte: int, done: int, check: BodyCheck) -> Outcome:
    header_version = response.headers.get("x-model-version")
    if not 200 <= response.status < 300:
        return Outcome(response.status, "http", first_byte, done, header_version, detail=raw[:200].decode(errors="replace"))
    try:
        version = check(raw) or header_version
    except ValueError as exc:
        return Outcome(response.status, "invalid_response", first_byte, done, header_version, detail=str(exc)[:200])
    return Outcome(response.status, None, first_byte, done, version)


def client_timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)
