"""Calls to the reference server's /admin API (fault injection, traffic splits), with the
target's admin credentials. Every failure is an `AdminError` naming the call."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from harness.targets.base import Target


class AdminError(RuntimeError):
    """The admin API refused (its `status`, its answer in `detail`) or could not be reached (`status` None)."""

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


async def admin_call(http: aiohttp.ClientSession, target: Target, method: str, path: str,
                     body: dict[str, Any] | None = None) -> dict[str, Any]:
    url = target.info.url + path
    data = b"" if body is None else orjson.dumps(body)
    headers = {"content-type": "application/json", **target.admin_headers}
    if target.credentials is not None:  # a signing server checks admin calls too
        headers |= target.credentials.signature(None, method, path, data)
    try:
        async with http.request(method, url, data=data, headers=headers) as response:
            if response.status >= 300:
                detail = (await response.text())[:300]
                raise AdminError(f"admin API answered {response.status} to {method} {path}: {detail}",
                                 response.status, detail)
            return await response.json()
    except aiohttp.ClientError as exc:
        raise AdminError(f"{method} {path}: {exc}") from None
