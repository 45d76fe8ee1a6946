"""`ToxiproxyClient`: an async client of Toxiproxy's HTTP API, the same against this package's
control server and a real `toxiproxy-server`.

Every failure is a `ProxyError` whose message says what went wrong in the caller's terms
("proxy port 127.0.0.1:9000 is in use"), not in HTTP's.
"""

from __future__ import annotations

import json
from typing import Any, Self

import aiohttp

from harness.netfault.toxics import Toxic

PORT_IN_USE = "address already in use"  # both engines' wording for a taken listen port


class ProxyError(Exception):
    """The proxy engine refused a request, or could not be reached."""


class ToxiproxyClient:
    """Usable as `async with ToxiproxyClient(url) as client:`; a session passed in stays the caller's."""

    def __init__(self, api_url: str, *, timeout_s: float = 10.0, session: aiohttp.ClientSession | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def version(self) -> str:
        return (await self._call("GET", "/version"))["version"]

    async def proxies(self) -> dict[str, dict[str, Any]]:
        return await self._call("GET", "/proxies")

    async def create_proxy(self, name: str, listen: str, upstream: str, *, enabled: bool = True) -> str:
        """The address the proxy actually listens on (`listen` may ask for port 0)."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        try:
            return (await self._call("POST", "/proxies", body))["listen"]
        except ProxyError as exc:
            if PORT_IN_USE in str(exc):
                raise ProxyError(f"proxy port {listen} is in use") from None
            raise

    async def delete_proxy(self, name: str) -> None:
        await self._call("DELETE", f"/proxies/{name}")

    async def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"/proxies/{proxy}/toxics")

    async def add_toxic(self, proxy: str, toxic: Toxic) -> dict[str, Any]:
        return await self._call("POST", f"/proxies/{proxy}/toxics", toxic.to_api())

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self.api_url + path
        try:
            async with self._session.request(method, url, json=body) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProxyError(f"cannot reach the proxy engine at {self.api_url}: {exc or type(exc).__name__}") from None
        if status >= 400:
            raise ProxyError(f"{method} {path}: {status} {_error_message(text)}")
        return json.loads(text) if text.strip() else None


def _error_message(text: str) -> str:
    """Toxiproxy's {"error": ..., "status": ...}, which it sends as text/plain."""
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text.strip()
