"""Non-streaming JSON exchanges over the lean HTTP/1.1 pool: the base of oip-v2 and http-json."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import aiohttp
import orjson

from harness.clients.base import Endpoint
from harness.clients.errors import classify_exception
from harness.clients.http1 import DeadlineExceeded, Http1Pool, Origin, Response, render_post
from harness.contracts import AuthStamp
from harness.records import NEVER, Outcome


class Answer(NamedTuple):
    """What a valid 2xx body says: the serving version it names and its first output value."""

    version: str | None = None
    prediction: float = math.nan


# Reads a 2xx response body (and its headers, lower-cased, where the body's layout is told
# there); raises ValueError when the body is not a valid answer (which the record counts as
# `invalid_response`).
BodyCheck = Callable[[bytes, Mapping[bytes, bytes]], Answer]
NO_HEADERS: Mapping[bytes, bytes] = MappingProxyType({})


def outcome_of(result: Response | BaseException, check: BodyCheck) -> Outcome:
    """Every failure becomes a record, never a crash."""
    if isinstance(result, Response):
        return judge(result, check)
    status, kind = classify_exception(result)
    done_ns = result.at_ns if isinstance(result, DeadlineExceeded) else time.perf_counter_ns()
    return Outcome(status, kind, NEVER, done_ns, detail=type(result).__name__)


def judge(response: Response, check: BodyCheck) -> Outcome:
    raw_version = response.headers.get(b"x-model-version")
    header_version = raw_version.decode("latin-1") if raw_version is not None else None
    timing = (response.first_byte_ns, response.done_ns)
    if not 200 <= response.status < 300:
        return Outcome(response.status, "http", *timing, header_version, detail=response.body[:200].decode(errors="replace"))
    try:
        answer = check(response.body, response.headers)
    except ValueError as exc:
        return Outcome(response.status, "invalid_response", *timing, header_version, detail=str(exc)[:200])
    return Outcome(response.status, None, *timing, answer.version or header_version, prediction=answer.prediction,
                   cold_wait_ns=cold_wait_ns(response.headers.get(b"x-cold-start")),
                   feature_source=_text(response.headers.get(b"x-feature-source")))


def _text(header: bytes | None) -> str | None:
    """`x-feature-source: store | fallback:<reason>`, as the server sent it."""
    return None if header is None else header.decode("latin-1")


def cold_wait_ns(header: str | bytes | None) -> int:
    """`x-cold-start: <seconds>`: the server says this request waited that long for its version to load."""
    if header is None:
        return NEVER
    try:
        seconds = float(header)
    except ValueError:
        return NEVER  # a header we cannot read is no evidence of a cold start
    return int(seconds * 1e9) if math.isfinite(seconds) and seconds >= 0 else NEVER


class JsonPostClient:
    """Shared plumbing: pre-rendered POSTs to one path, judged by the subclass's `check`."""

    def __init__(self, endpoint: Endpoint, path: str) -> None:
        self.endpoint = endpoint
        self.path = path
        self.origin = Origin.parse(endpoint.base_url, endpoint.tls)
        self.headers = {"content-type": "application/json", **endpoint.headers}
        self.pool = Http1Pool(self.origin)

    def render(self, body: Any, auth: AuthStamp | None = None) -> bytes:
        """The whole request with `body` as JSON; with the run's credentials, presented as the payload's stamp says."""
        return self.render_raw(orjson.dumps(body), auth)

    def render_raw(self, raw: bytes, auth: AuthStamp | None = None, headers: dict[str, str] | None = None) -> bytes:
        """The whole request with `raw` as its body, `headers` over the client's own; signed as `render` says."""
        credentials = self.endpoint.credentials
        signed = credentials.headers(auth, "POST", self.origin.path_prefix + self.path, raw) if credentials else {}
        return render_post(self.origin, self.path, raw, self.headers | (headers or {}) | signed)

    async def send(self, session: aiohttp.ClientSession, request: bytes) -> Outcome:
        try:
            response = await self.pool.request(request, self.endpoint.timeout_s)
        except Exception as exc:  # noqa: BLE001 - see outcome_of
            return outcome_of(exc, self.check)
        return judge(response, self.check)

    def start(self, request: bytes, on_outcome: Callable[[Outcome], None]) -> None:
        check = self.check
        self.pool.start(request, self.endpoint.timeout_s, lambda result: on_outcome(outcome_of(result, check)))

    def abort(self) -> None:
        self.pool.abort()

    async def warm(self, connections: int) -> None:
        await self.pool.prewarm(connections, self.endpoint.timeout_s)

    async def close(self) -> None:
        self.pool.close()

    def stats(self) -> dict[str, int]:
        return {"stale_connections_replaced": self.pool.stale_replaced}

    def check(self, raw: bytes, headers: Mapping[bytes, bytes] = NO_HEADERS) -> Answer:
        raise NotImplementedError


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"response is not JSON: {exc}") from None
