"""`http-json`: POST a templated JSON body to any path; success is any 2xx JSON answer.

`target.options`:
  path: the request path (default `/`);
  body: a JSON template; any string value "$payload" is replaced by the payload's data
        (without a template the payload's data is the body);
  version_field: a top-level response key naming the serving version (default `model_version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from harness.clients.base import ClientOptions, Endpoint, clients
from harness.clients.exchange import NO_HEADERS, Answer, JsonPostClient, parse_json
from harness.contracts import ModelInfo, Payload

PLACEHOLDER = "$payload"


class HttpJsonOptions(ClientOptions):
    path: str = "/"
    body: Any = None  # a JSON template; None sends the payload's data as the body
    version_field: str = "model_version"
    model_info: dict[str, Any] = {}  # ModelInfo parameters for payload generators (e.g. a baseline)


@clients.register("http-json", args=HttpJsonOptions)
class HttpJsonClient(JsonPostClient):
    def __init__(self, endpoint: Endpoint) -> None:
        options = endpoint.options
        super().__init__(endpoint, "/" + options.path.lstrip("/"))
        self.template = options.body
        self.version_field = options.version_field

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo:
        return ModelInfo(parameters=dict(self.endpoint.options.model_info))

    def encode(self, payload: Payload) -> bytes:
        data = payload.data.tolist() if hasattr(payload.data, "tolist") else payload.data
        body = data if self.template is None else _fill(self.template, data)
        return self.render(body, payload.auth)

    def check(self, raw: bytes, headers: Mapping[bytes, bytes] = NO_HEADERS) -> Answer:
        answer = parse_json(raw)
        version = answer.get(self.version_field) if isinstance(answer, dict) else None
        return Answer(None if version is None else str(version))


def _fill(template: Any, data: Any) -> Any:
    if template == PLACEHOLDER:
        return data
    if isinstance(template, dict):
        return {key: _fill(value, data) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, data) for value in template]
    return template

