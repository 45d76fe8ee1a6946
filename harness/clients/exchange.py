"""Non-streaming JSON exchanges over the lean HTTP/1.1 pool: the base of oip-v2 and http-json."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from harness.clients.base import Endpoint
from harness.clients.errors import classify_exception
from harness.clients.http1 import Http1Pool, Origin, Response, render_post
from harness.records import Outcome

# Reads a 2xx response body; returns the model version it names, or raises ValueError when
# the body is not a valid answer (which the record counts as `invalid_response`).
BodyCheck = Callable[[bytes], str | None]


async def post_exchange(pool: Http1Pool, request: bytes, timeout_s: float, check: BodyCheck) -> Outcome:
    try:
        response = await pool.request(request, timeout_s)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a record, never a crash
        status, kind = classify_exception(exc)
        return Outcome(status, kind, -1, time.perf_counter_ns(), detail=type(exc).__name__)
    return judge(response, check)


def judge(response: Response, check: BodyCheck) -> Outcome:
    raw_version = response.headers.get(b"x-model-version")
    header_version = raw_version.decode("latin-1") if raw_version is not None else None
    timing = (response.first_byte_ns, response.done_ns)
    if not 200 <= response.status < 300:
        return Outcome(response.status, "http", *timing, header_version, detail=response.body[:200].decode(errors="replace"))
    try:
        version = check(response.body) or header_version
    except ValueError as exc:
        return Outcome(response.status, "invalid_response", *timing, header_version, detail=str(exc)[:200])
    return Outcome(response.status, None, *timing, version)


class JsonPostClient:
    """Shared plumbing: pre-rendered POSTs to one path, judged by the subclass's `check`."""

    def __init__(self, endpoint: Endpoint, path: str) -> None:
        self.endpoint = endpoint
        self.path = path
        self.origin = Origin.parse(endpoint.base_url)
        self.headers = {"content-type": "application/json", **endpoint.headers}
        self.pool = Http1Pool(self.origin)

    def render(self, body: Any) -> bytes:
        return render_post(self.origin, self.path, orjson.dumps(body), self.headers)

    async def send(self, session: aiohttp.ClientSession, request: bytes) -> Outcome:
        return await post_exchange(self.pool, request, self.endpoint.timeout_s, self.check)

    async def warm(self, connections: int) -> None:
        await self.pool.prewarm(connections, self.endpoint.timeout_s)

    async def close(self) -> None:
        self.pool.close()

    def check(self, raw: bytes) -> str | None:
        raise NotImplementedError


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"response is not JSON: {exc}") from None
