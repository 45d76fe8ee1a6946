"""Turning an OIP v2 infer body into rows, or into a 400 that names the offending field."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from slogate_common.raw_tensors import DATATYPES

from .binary_data import NO_BINARY, BinaryInputs
from .errors import RequestError
from .repository import TensorSpec

NUMERIC_DATATYPES = frozenset(
    ["FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]
)
NUMERIC_KINDS = frozenset("fiub")  # numpy kinds for float, int, unsigned, bool (JSON true/false read as 1/0)
MAX_ROWS = 65536


def bad(error: str, field: str | None) -> RequestError:
    return RequestError(400, error, field)


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object; a 400 naming `body` otherwise."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad("body is not valid JSON", "body") from None
    if not isinstance(body, dict):
        raise bad("body must be a JSON object", "body")
    return body


def parse_body(raw: bytes) -> dict[str, Any]:
    body = json_object(raw)
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad("id must be a string", "id")
    return body


def oip_inputs(body: dict[str, Any], binary: memoryview = NO_BINARY) -> list[dict[str, Any]]:
    """The envelope every OIP infer request shares: a non-empty list of well-formed inputs.
    An input sent as binary data (binary_data.py) takes its slice of `binary`, the bytes after
    the JSON header, and gets the decoded array as its `data`."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad("inputs must be a non-empty list", "inputs")
    binary_inputs = BinaryInputs(binary)
    for i, item in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(item, dict):
            raise bad("each input must be an object", where)
        if not isinstance(item.get("name"), str):
            raise bad("name must be a string", f"{where}.name")
        datatype = item.get("datatype")
        if not isinstance(datatype, str) or datatype not in DATATYPES:  # a list is unhashable: check str first
            raise bad(f"datatype must be one of {', '.join(sorted(DATATYPES))}", f"{where}.datatype")
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise bad("shape must be a list of non-negative integers", f"{where}.shape")
        array = binary_inputs.take(item, where) if "parameters" in item else None  # only parameters say binary
        if array is not None:
            item["data"] = array
        elif not isinstance(item.get("data"), list):
            raise bad("data must be a list", f"{where}.data")
    binary_inputs.finish()
    return inputs


def request_rows(inputs: list[dict[str, Any]]) -> int:
    """Rows in a request whose tensors the backend does not inspect (sim), at most MAX_ROWS:
    the backend answers one value per row, and a shape from the wire may claim billions."""
    shape = inputs[0]["shape"]
    rows = max(1, shape[0]) if shape else 1
    if rows > MAX_ROWS:
        raise bad(f"shape claims {rows} rows; at most {MAX_ROWS}", "inputs[0].shape")
    return rows


def tensor_rows(inputs: list[dict[str, Any]], spec: TensorSpec) -> np.ndarray:
    """A float32 [rows, features] array from the request's single input, checked against `spec`."""
    if len(inputs) != 1:
        raise bad(f"expected exactly one input named {spec.name!r}", "inputs")
    item = inputs[0]
    if item["name"] != spec.name:
        raise bad(f"unknown input {item['name']!r}; expected {spec.name!r}", "inputs[0].name")
    if item["datatype"] not in NUMERIC_DATATYPES:
        raise bad(f"datatype {item['datatype']!r} is not numeric; send FP32", "inputs[0].datatype")
    shape, features = item["shape"], spec.shape[-1]
    if len(shape) != 2 or shape[1] != features or not 1 <= shape[0] <= MAX_ROWS:
        raise bad(f"shape must be [rows, {features}] with 1..{MAX_ROWS} rows", "inputs[0].shape")
    try:
        array = np.array(item["data"])
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise bad("data must be a flat or nested list of numbers", "inputs[0].data") from None
    if array.dtype.kind not in NUMERIC_KINDS:
        raise bad("data must hold only numbers", "inputs[0].data")
    if array.size != shape[0] * features:
        raise bad(f"data holds {array.size} values, shape {shape} needs {shape[0] * features}", "inputs[0].data")
    with np.errstate(over="ignore"):
        rows = array.reshape(shape).astype(np.float32)
    if not np.isfinite(rows).all():
        raise bad("data holds NaN or Inf (or values beyond FP32 range)", "inputs[0].data")
    return rows
