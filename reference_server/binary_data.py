"""The binary tensor data extension of /v2 infer (KServe and Triton's `binary_tensor_data`).

A request whose `Inference-Header-Content-Length` header is N carries its JSON header in the
body's first N bytes; each input whose `parameters.binary_data_size` is set takes that many of
the bytes after it, in input order, in the raw layout of slogate_common/raw_tensors.py. Inputs
without it carry JSON `data` as usual, so one request may mix the two, as Triton allows.

An answer returns an output raw when the request's `outputs[i].parameters.binary_data` says so,
or, for an output that does not say, when the request's `parameters.binary_data_output` is
true; the raw outputs follow the JSON header, whose length the answer's
`Inference-Header-Content-Length` gives. tritonclient and perf_analyzer send and ask for
binary tensors by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from slogate_common.raw_tensors import RawTensorError, decode, encode

from .errors import RequestError

HEADER = b"inference-header-content-length"  # ASGI header names are lower case
BINARY_CONTENT_TYPE = b"application/octet-stream"
NO_BINARY = memoryview(b"")


def split_body(raw: bytes, header_length: bytes | None) -> tuple[bytes, memoryview]:
    """(the JSON header, the binary data after it); a body without the header is all JSON."""
    if header_length is None:
        return raw, NO_BINARY
    try:
        length = int(header_length)
    except ValueError:
        length = -1
    if not 0 <= length <= len(raw):
        raise RequestError(400, f"Inference-Header-Content-Length {header_length.decode('latin-1')!r} must be a "
                                f"whole number of bytes within the {len(raw)}-byte body", "Inference-Header-Content-Length")
    view = memoryview(raw)
    return raw[:length], view[length:]


class BinaryInputs:
    """Hands each binary input its slice of the data after the JSON header, in input order."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.offset = 0

    def take(self, item: dict[str, Any], where: str) -> np.ndarray | None:
        """The input's array from the binary data, or None when it sends JSON `data`."""
        size = binary_size(item.get("parameters"), f"{where}.parameters.binary_data_size")
        if size is None:
            return None
        if "data" in item:
            raise RequestError(400, "an input with binary_data_size carries no JSON data", f"{where}.data")
        left = len(self.data) - self.offset
        if size > left:
            raise RequestError(400, f"binary_data_size {size} runs past the end of the body ({left} bytes left)",
                               f"{where}.parameters.binary_data_size")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        try:
            return decode(chunk, item["datatype"], item["shape"])
        except RawTensorError as e:
            raise RequestError(400, f"binary data of input {item['name']!r}: {e}", where) from None

    def finish(self) -> None:
        """Every byte after the JSON header must belong to an input."""
        left = len(self.data) - self.offset
        if left:
            raise RequestError(400, f"{left} bytes of binary data after the JSON header belong to no input "
                                    "(each binary input declares parameters.binary_data_size)", "inputs")


def binary_size(parameters: Any, where: str) -> int | None:
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is not None and (type(size) is not int or size < 0):
        raise RequestError(400, "binary_data_size must be a whole number of bytes", where)
    return size


@dataclass(frozen=True)
class OutputChoice:
    """An output the answer carries, and whether raw (binary) or as JSON data."""

    name: str
    binary: bool


def output_choices(body: dict[str, Any], produced: list[str]) -> list[OutputChoice]:
    """The outputs to return, in order: those the request names (only those, as Triton does), else all."""
    parameters = body.get("parameters")
    default = parameters.get("binary_data_output", False) if isinstance(parameters, dict) else False
    if not isinstance(default, bool):
        raise RequestError(400, "binary_data_output must be true or false", "parameters.binary_data_output")
    requested = body.get("outputs")
    if requested is None:
        return [OutputChoice(name, default) for name in produced]
    if not isinstance(requested, list):
        raise RequestError(400, "outputs must be a list of {name, parameters}", "outputs")
    return [_choice(item, f"outputs[{i}]", produced, default) for i, item in enumerate(requested)]


def _choice(item: Any, where: str, produced: list[str], default: bool) -> OutputChoice:
    name = item.get("name") if isinstance(item, dict) else None
    if name not in produced:
        raise RequestError(400, f"unknown output {name!r}; the model returns {', '.join(produced)}", f"{where}.name")
    parameters = item.get("parameters")
    binary = parameters.get("binary_data", default) if isinstance(parameters, dict) else default
    if not isinstance(binary, bool):
        raise RequestError(400, "binary_data must be true or false", f"{where}.parameters.binary_data")
    return OutputChoice(name, binary)


def attach_raw(tensor: dict[str, Any], array: np.ndarray) -> bytes:
    """Move a response tensor's data to the binary section: its raw bytes, sized in its parameters."""
    raw = encode(array, tensor["datatype"])
    tensor.pop("data", None)
    tensor["parameters"] = {"binary_data_size": len(raw)}
    return raw
