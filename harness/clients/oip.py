"""`oip-v2`: the Open Inference Protocol v2 REST client (KServe, Triton, MLServer, our server)."""

from __future__ import annotations

import json
import math
from typing import Any

import aiohttp
import numpy as np
import orjson

from harness.clients.base import ClientOptions, Endpoint, clients
from harness.clients.exchange import Answer, JsonPostClient, parse_json
from harness.contracts import ModelInfo, Payload


class OipOptions(ClientOptions):
    check_outputs: bool = True  # a 2xx whose outputs hold NaN, Inf or null is `invalid_response`


@clients.register("oip-v2", args=OipOptions)
class OipClient(JsonPostClient):
    def __init__(self, endpoint: Endpoint) -> None:
        if not endpoint.model:
            raise ValueError("protocol oip-v2 needs target.model")
        path = f"/v2/models/{endpoint.model}" + (f"/versions/{endpoint.version}" if endpoint.version else "")
        super().__init__(endpoint, f"{path}/infer")
        self.model_url = endpoint.base_url.rstrip("/") + path
        self.check_outputs = endpoint.options.check_outputs
        self._input: dict = {}

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo:
        timeout = aiohttp.ClientTimeout(total=self.endpoint.timeout_s)
        headers = self.endpoint.headers_for("GET", self.model_url)
        async with session.get(self.model_url, headers=headers, timeout=timeout) as response:
            if response.status != 200:
                text = (await response.text())[:200]
                raise RuntimeError(f"GET {self.model_url} answered {response.status}: {text}")
            meta = await response.json(loads=orjson.loads)
        info = ModelInfo(
            # KServe answers "versions": null; the protocol lets any of these be absent or null
            inputs=meta.get("inputs") or [],
            outputs=meta.get("outputs") or [],
            parameters=meta.get("parameters") or {},
            versions=[str(v) for v in meta.get("versions") or []],
        )
        self._input = info.inputs[0] if info.inputs else {"name": "input", "datatype": "FP32"}
        return info

    def encode(self, payload: Payload) -> bytes:
        rows = np.asarray(payload.data)
        request = {
            "id": str(payload.payload_id),
            "inputs": [
                {
                    "name": self._input.get("name", "input"),
                    "shape": list(rows.shape),
                    "datatype": self._input.get("datatype", "FP32"),
                    "data": rows.ravel().tolist(),
                }
            ],
        }
        return self.render(request, payload.auth)

    def check(self, raw: bytes) -> Answer:
        """A 2xx is only a success if it carries finite outputs: NaN is silent corruption.
        The first output's first value is kept as the request's prediction (the canary
        judge compares their distributions between versions)."""
        answer = _parse(raw)
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if not outputs:
            raise ValueError("response has no outputs")
        if self.check_outputs and not all(_finite(output.get("data")) for output in outputs):
            raise ValueError("response outputs contain NaN, Inf or null")
        version = answer.get("model_version")
        return Answer(None if version is None else str(version), _first_value(outputs[0].get("data")))


def _parse(raw: bytes) -> Any:
    """The body as JSON; failing that, as JSON with NaN and Infinity literals (as Triton and
    Python write non-finite outputs, and orjson refuses), so that corrupt outputs are judged as
    such below and not mistaken for a body that is not JSON."""
    try:
        return parse_json(raw)
    except ValueError as exc:
        try:
            return json.loads(raw)
        except ValueError:
            raise exc from None


def _first_value(data) -> float:
    if isinstance(data, list) and data and isinstance(data[0], (int, float)):
        return float(data[0])
    return math.nan


def _finite(data) -> bool:
    if not isinstance(data, list):
        return False
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in data)

