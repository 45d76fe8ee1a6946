"""The oip-v2 client's request bodies, JSON and binary, read back by the reference server's own
parser, and its reading of binary answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.clients.base import Endpoint, make_client
from harness.clients.oip import OipClient
from harness.contracts import NamedTensors, Payload
from harness.workload.tensor_schema import NUMPY_TYPES, draw
from reference_server.binary_data import split_body
from reference_server.validation import oip_inputs, parse_body
from slogate_common.raw_tensors import encode

DATATYPES = sorted(NUMPY_TYPES)


def client(binary: bool, inputs: list[dict] | None = None) -> OipClient:
    made = make_client("oip-v2", Endpoint("http://127.0.0.1:9", model="m", options={"binary": binary}))
    made._datatypes = {i["name"]: i["datatype"] for i in inputs or []}
    made._first = next(iter(made._datatypes), "input")
    return made


def server_reads(request: bytes) -> tuple[dict[bytes, bytes], list[dict]]:
    """What the reference server makes of a rendered request: its headers and validated inputs."""
    head, _, body = request.partition(b"\r\n\r\n")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    assert int(headers[b"content-length"]) == len(body)
    header, binary = split_body(body, headers.get(b"inference-header-content-length"))
    return headers, oip_inputs(parse_body(header), binary)


@settings(deadline=None)  # a busy box stalls single examples
@given(st.lists(st.tuples(st.sampled_from(DATATYPES), st.lists(st.integers(0, 3), min_size=1, max_size=3)),
                min_size=1, max_size=4), st.booleans(), st.integers(0, 2**32 - 1))
def test_every_datatype_reaches_the_server_as_sent_either_way(inputs, binary: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    declared = [{"name": f"in{i}", "datatype": t, "shape": s} for i, (t, s) in enumerate(inputs)]
    tensors = {d["name"]: draw(d["datatype"], d["shape"], rng) for d in declared}
    headers, received = server_reads(client(binary, declared).encode(Payload(7, NamedTensors(tensors))))
    assert (b"inference-header-content-length" in headers) is binary
    for sent, got, spec in zip(tensors.values(), received, declared):
        assert (got["name"], got["datatype"], got["shape"]) == (spec["name"], spec["datatype"], list(sent.shape))
        values = np.asarray(got["data"], dtype=object if spec["datatype"] == "BYTES" else sent.dtype).reshape(sent.shape)
        if spec["datatype"] == "BYTES" and not binary:  # JSON carries text
            values = np.vectorize(str.encode, otypes=[object])(values) if values.size else values
        np.testing.assert_array_equal(values, sent)


def test_rows_of_an_integer_input_go_as_whole_numbers() -> None:
    rows = np.array([[1.0, 2.0]], dtype=np.float32)  # a table's block is float32 whatever the datatype
    _, (received,) = server_reads(client(False, [{"name": "ids", "datatype": "INT64"}]).encode(Payload(0, rows)))
    assert received["data"] == [1, 2] and all(type(v) is int for v in received["data"])


def test_a_request_body_from_a_file_goes_binary_as_it_is() -> None:
    body = {"id": "real-1", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [0.5, 1.5]}],
            "parameters": {"priority": 1}}
    request = client(True).encode(Payload(0, body))
    _, (received,) = server_reads(request)
    np.testing.assert_array_equal(received["data"], np.array([[0.5, 1.5]], dtype=np.float32))
    header = parse_body(split_body(request.partition(b"\r\n\r\n")[2], b"%d" % _header_length(request))[0])
    assert header["id"] == "real-1" and header["parameters"] == {"priority": 1, "binary_data_output": True}


def _header_length(request: bytes) -> int:
    head = request.partition(b"\r\n\r\n")[0]
    return int(next(line for line in head.split(b"\r\n") if line.startswith(b"inference-header")).split(b": ")[1])


def binary_answer(*outputs: np.ndarray, trailing: bytes = b"") -> tuple[bytes, dict[bytes, bytes]]:
    """A binary-extension answer as Triton writes it: the JSON header, then each output raw."""
    raws = [encode(o, "FP32") for o in outputs]
    tensors = [{"name": f"out{i}", "datatype": "FP32", "shape": list(o.shape), "parameters": {"binary_data_size": len(r)}}
               for i, (o, r) in enumerate(zip(outputs, raws))]
    header = json.dumps({"model_name": "m", "model_version": "3", "outputs": tensors}).encode()
    return header + b"".join(raws) + trailing, {b"inference-header-content-length": str(len(header)).encode()}


def test_a_binary_answer_is_read_for_its_version_and_prediction() -> None:
    raw, headers = binary_answer(np.array([[0.25], [0.5]], dtype=np.float32), np.array([1.0], dtype=np.float32))
    assert client(True).check(raw, headers) == ("3", 0.25)


@pytest.mark.parametrize(("outputs", "trailing", "headers", "error"), [
    ((np.array([math.nan], dtype=np.float32),), b"", None, "NaN, Inf or null"),
    ((np.array([math.inf], dtype=np.float32),), b"", None, "NaN, Inf or null"),
    ((np.array([0.5], dtype=np.float32),), b"\0", None, "1 bytes after the outputs"),
    ((np.array([0.5], dtype=np.float32),), b"", {b"inference-header-content-length": b"99999"}, "beyond"),
])
def test_a_corrupt_binary_answer_is_an_invalid_response(outputs, trailing: bytes, headers, error: str) -> None:
    raw, real_headers = binary_answer(*outputs, trailing=trailing)
    with pytest.raises(ValueError, match=error):
        client(True).check(raw, headers or real_headers)


def test_text_outputs_are_not_mistaken_for_corrupt_numbers() -> None:
    raw = b'{"model_version": "1", "outputs": [{"name": "label", "datatype": "BYTES", "shape": [1], "data": ["ok"]}]}'
    version, prediction = client(False).check(raw)
    assert version == "1" and math.isnan(prediction)

