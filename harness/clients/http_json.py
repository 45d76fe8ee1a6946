"""`http-json`: POST a templated JSON body to any path; success is any 2xx JSON answer.

`target.options`:
  path: the request path (default `/`);
  body: a JSON template; any string value "$payload" is replaced by the payload's data
        (without a template the payload's data is the body);
  version_field: a top-level response key naming the serving version (default `model_version`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from harness.clients.base import Endpoint, ModelInfo, Payload, register_client
from harness.clients.exchange import post_exchange
from harness.clients.http1 import Http1Pool, Origin, render_post
from harness.records import Outcome

PLACEHOLDER = "$payload"


class HttpJsonClient:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.path = "/" + str(endpoint.options.get("path", "/")).lstrip("/")
        self.origin = Origin.parse(endpoint.base_url)
        self.pool = Http1Pool(self.origin)
        self.template = endpoint.options.get("body")
        self.version_field = str(endpoint.options.get("version_field", "model_version"))
        self.headers = {"content-type": "application/json", **endpoint.headers}

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo:
        return ModelInfo(parameters=dict(self.endpoint.options.get("model_info", {})))

    def encode(self, payload: Payload) -> bytes:
        data = payload.data.tolist() if hasattr(payload.data, "tolist") else payload.data
        body = data if self.template is None else _fill(self.template, data)
        return render_post(self.origin, self.path, orjson.dumps(body), self.headers)

    async def send(self, session: aiohttp.ClientSession, request: bytes) -> Outcome:
        return await post_exchange(self.pool, request, self.endpoint.timeout_s, self._check)

    async def close(self) -> None:
        self.pool.close()

    def _check(self, raw: bytes) -> str | None:
        try:
            answer = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"response is not JSON: {exc}") from None
        version = answer.get(self.version_field) if isinstance(answer, dict) else None
        return None if version is None else str(version)


def _fill(template: Any, data: Any) -> Any:
    if template == PLACEHOLDER:
        return data
    if isinstance(template, dict):
        return {key: _fill(value, data) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, data) for value in template]
    return template


@register_client("http-json")
def _http_json(endpoint: Endpoint) -> HttpJsonClient:
    return HttpJsonClient(endpoint)
