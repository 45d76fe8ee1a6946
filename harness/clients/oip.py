"""`oip-v2`: the Open Inference Protocol v2 REST client (KServe, Triton, MLServer, our server).

`target.options`:
  check_outputs: a 2xx whose outputs hold NaN, Inf or null is `invalid_response` (default true);
  binary: send and receive tensors with the binary tensor data extension (KServe and Triton's
          `binary_tensor_data`): each input's raw bytes after a JSON header whose length
          `Inference-Header-Content-Length` gives, and every output asked for raw
          (`binary_data_output`). Cheaper to encode than JSON numbers at large batch sizes.

A payload is one [rows, features] array for the model's first input, named tensors for
several inputs, or (the `file` generator) a whole OIP request body, sent as it is, or with
binary on, with its inputs' data moved to the binary section.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import aiohttp
import numpy as np
import orjson

from harness.clients.base import ClientOptions, Endpoint, clients
from harness.clients.exchange import NO_HEADERS, Answer, JsonPostClient, parse_json
from harness.contracts import ModelInfo, NamedTensors, Payload
from slogate_common.raw_tensors import FIXED_DTYPES, decode, encode

HEADER_LENGTH = "inference-header-content-length"
BINARY_HEADERS = {"content-type": "application/octet-stream"}
Tensor = tuple[str, str, np.ndarray]  # name, datatype, values


class OipOptions(ClientOptions):
    check_outputs: bool = True  # a 2xx whose outputs hold NaN, Inf or null is `invalid_response`
    binary: bool = False  # the binary tensor data extension, both ways


@clients.register("oip-v2", args=OipOptions)
class OipClient(JsonPostClient):
    def __init__(self, endpoint: Endpoint) -> None:
        if not endpoint.model:
            raise ValueError("protocol oip-v2 needs target.model")
        path = f"/v2/models/{endpoint.model}" + (f"/versions/{endpoint.version}" if endpoint.version else "")
        super().__init__(endpoint, f"{path}/infer")
        self.model_url = endpoint.base_url.rstrip("/") + path
        self.check_outputs = endpoint.options.check_outputs
        self.binary = endpoint.options.binary
        self._datatypes: dict[str, str] = {}  # declared input name → datatype
        self._first = "input"  # the input a bare array of rows is sent as

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
        self._datatypes = {i.get("name"): i.get("datatype", "FP32") for i in info.inputs if isinstance(i, dict)}
        self._first = next(iter(self._datatypes), "input")
        return info

    def encode(self, payload: Payload) -> bytes:
        data = payload.data
        if isinstance(data, dict):  # a whole request body, from a file of real requests
            if not self.binary:
                return self.render(data, payload.auth)
            body = {key: value for key, value in data.items() if key != "inputs"}
            tensors = [_tensor_of(item) for item in data.get("inputs") or []]
        else:
            body = {"id": str(payload.payload_id)}
            named = data.tensors if isinstance(data, NamedTensors) else {self._first: data}
            tensors = [(name, self._datatypes.get(name, "FP32"), np.asarray(values)) for name, values in named.items()]
        if self.binary:
            return self._binary(body, tensors, payload)
        return self.render({**body, "inputs": [_json_input(*t) for t in tensors]}, payload.auth)

    def _binary(self, body: dict[str, Any], tensors: list[Tensor], payload: Payload) -> bytes:
        """The JSON header, each input's raw bytes after it in order, and every output asked for raw."""
        inputs, raws = [], []
        for name, datatype, values in tensors:
            raw = encode(values, datatype)
            inputs.append({"name": name, "shape": list(values.shape), "datatype": datatype,
                           "parameters": {"binary_data_size": len(raw)}})
            raws.append(raw)
        given = body.get("parameters")
        parameters = {**(given if isinstance(given, dict) else {}), "binary_data_output": True}
        header = orjson.dumps({**body, "inputs": inputs, "parameters": parameters})
        return self.render_raw(header + b"".join(raws), payload.auth,
                               {**BINARY_HEADERS, HEADER_LENGTH: str(len(header))})

    def check(self, raw: bytes, headers: Mapping[bytes, bytes] = NO_HEADERS) -> Answer:
        """A 2xx is only a success if it carries finite outputs: NaN is silent corruption.
        The first output's first value is kept as the request's prediction (the canary
        judge compares their distributions between versions)."""
        answer, binary = _split(raw, headers.get(HEADER_LENGTH.encode()))
        outputs = answer.get("outputs") if isinstance(answer, dict) else None
        if not outputs or not isinstance(outputs, list):
            raise ValueError("response has no outputs")
        values = _output_values(outputs, binary)
        if self.check_outputs and any(_corrupt(v, o.get("datatype")) for v, o in zip(values, outputs)):
            raise ValueError("response outputs contain NaN, Inf or null")
        version = answer.get("model_version")
        return Answer(None if version is None else str(version), _first_value(values[0]))


def _json_input(name: str, datatype: str, values: np.ndarray) -> dict[str, Any]:
    """An input with JSON data: values as the declared datatype holds them (ints, booleans, UTF-8 text)."""
    if datatype == "BYTES":
        return {"name": name, "shape": list(values.shape), "datatype": datatype,
                "data": [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()]}
    declared = FIXED_DTYPES.get(datatype)
    if declared is not None and values.dtype.kind != declared.kind:  # floats drawn for INT64: send whole numbers
        values = values.astype(declared)
    return {"name": name, "shape": list(values.shape), "datatype": datatype, "data": values.ravel().tolist()}


def _tensor_of(item: Any) -> Tensor:
    """A JSON request input as a tensor (to send it raw)."""
    try:
        datatype, shape = item["datatype"], item["shape"]
        dtype = object if datatype == "BYTES" else FIXED_DTYPES[datatype]
        return item["name"], datatype, np.asarray(item["data"], dtype=dtype).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a request body's input cannot be sent as binary data: {exc!r} in {str(item)[:200]}") from None


def _split(raw: bytes, header_length: bytes | None) -> tuple[Any, memoryview]:
    """The answer's JSON, and the raw outputs after it where Inference-Header-Content-Length says so."""
    if header_length is None:
        return _parse(raw), memoryview(b"")
    length = int(header_length)
    if not 0 <= length <= len(raw):
        raise ValueError(f"Inference-Header-Content-Length {length} is beyond the {len(raw)}-byte body")
    return parse_json(raw[:length]), memoryview(raw)[length:]


def _output_values(outputs: list[Any], binary: memoryview) -> list[Any]:
    """Each output's values: its JSON data, or its raw bytes decoded (in output order)."""
    values, offset = [], 0
    for output in outputs:
        if not isinstance(output, dict):
            raise ValueError("an output is not an object")  # noqa: TRY004 - ValueError marks invalid_response
        parameters = output.get("parameters")
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            values.append(output.get("data"))
            continue
        datatype, shape = output.get("datatype"), output.get("shape")
        if type(size) is not int or size < 0 or not isinstance(datatype, str) or not isinstance(shape, list):
            raise ValueError(f"binary output {output.get('name')!r} needs a byte size, datatype and shape")
        values.append(decode(binary[offset:offset + size], datatype, shape))
        offset += size
    if offset != len(binary):
        raise ValueError(f"{len(binary) - offset} bytes after the outputs' binary data")
    return values


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


def _first_value(values: Any) -> float:
    if isinstance(values, np.ndarray):
        return float(values.flat[0]) if values.size and values.dtype.kind in "biuf" else math.nan
    if isinstance(values, list) and values and isinstance(values[0], (int, float)):
        return float(values[0])
    return math.nan


def _corrupt(values: Any, datatype: Any) -> bool:
    """NaN, Inf or null where numbers belong; text (BYTES) holds no numbers to corrupt."""
    if datatype == "BYTES":
        return False
    if isinstance(values, np.ndarray):
        return values.dtype.kind == "f" and not bool(np.isfinite(values).all())
    return not _finite(values)


def _finite(data: Any) -> bool:
    if not isinstance(data, list):
        return False
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in data)
