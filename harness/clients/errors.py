"""Map transport exceptions to the record's (status, error_kind), shared by every client."""

from __future__ import annotations

import asyncio

import aiohttp

TRANSPORT_ERROR_STATUS = 0


def classify_exception(exc: BaseException) -> tuple[int, str]:
    """Return (status, error_kind) for an exception raised while talking to the target."""
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TRANSPORT_ERROR_STATUS, "timeout"
    if isinstance(exc, (aiohttp.ClientConnectorError, ConnectionRefusedError)):
        return TRANSPORT_ERROR_STATUS, "connect"
    if isinstance(exc, asyncio.CancelledError):
        return TRANSPORT_ERROR_STATUS, "cancelled"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TRANSPORT_ERROR_STATUS, "truncated"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError)):
        return TRANSPORT_ERROR_STATUS, "reset"
    if isinstance(exc, OSError):
        return TRANSPORT_ERROR_STATUS, "connect"
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status, "http"
    return TRANSPORT_ERROR_STATUS, "invalid_response"
