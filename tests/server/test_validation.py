"""Bad input always gets a 4xx JSON error naming the field, never a 5xx."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_process import ROW, infer_body

pytestmark = pytest.mark.integration

INFER = "/v2/models/fraud/versions/1/infer"


def with_input(**changes: Any) -> dict[str, Any]:
    body = infer_body()
    body["inputs"][0].update(changes)
    return body


BAD_BODIES = [
    ("not json", b"{inputs:", 400, "body"),
    ("json array", b"[1, 2]", 400, "body"),
    ("empty body", b"", 400, "body"),
    ("missing inputs", b"{}", 400, "inputs"),
    ("empty inputs", json.dumps({"inputs": []}).encode(), 400, "inputs"),
    ("input not an object", json.dumps({"inputs": [3]}).encode(), 400, "inputs[0]"),
    ("id not a string", json.dumps({**infer_body(), "id": 5}).encode(), 400, "id"),
    ("wrong input name", json.dumps(with_input(name="x")).encode(), 400, "inputs[0].name"),
    ("two inputs", json.dumps({"inputs": infer_body()["inputs"] * 2}).encode(), 400, "inputs"),
    ("wrong datatype", json.dumps(with_input(datatype="BYTES")).encode(), 400, "inputs[0].datatype"),
    ("datatype not a string", json.dumps(with_input(datatype=1)).encode(), 400, "inputs[0].datatype"),
    ("shape rank", json.dumps(with_input(shape=[14])).encode(), 400, "inputs[0].shape"),
    ("feature count", json.dumps(with_input(shape=[1, 13], data=ROW[:13])).encode(), 400, "inputs[0].shape"),
    ("negative shape", json.dumps(with_input(shape=[-1, 14])).encode(), 400, "inputs[0].shape"),
    ("zero rows", json.dumps(with_input(shape=[0, 14], data=[])).encode(), 400, "inputs[0].shape"),
    ("shape vs data", json.dumps(with_input(shape=[2, 14])).encode(), 400, "inputs[0].data"),
    ("ragged nesting", json.dumps(with_input(data=[ROW[:7], ROW[7:9]])).encode(), 400, "inputs[0].data"),
    ("strings for numbers", json.dumps(with_input(data=[str(v) for v in ROW])).encode(), 400, "inputs[0].data"),
    ("null in data", json.dumps(with_input(data=[None] + ROW[1:])).encode(), 400, "inputs[0].data"),
    ("data not a list", json.dumps(with_input(data="1,2,3")).encode(), 400, "inputs[0].data"),
    ("NaN", json.dumps(with_input(data=[float("nan")] + ROW[1:])).encode(), 400, "body"),  # NaN is not JSON
    ("Infinity", json.dumps(with_input(data=[float("inf")] + ROW[1:])).encode(), 400, "body"),
    ("beyond FP32", json.dumps(with_input(data=[1e300] + ROW[1:])).encode(), 400, "inputs[0].data"),
    ("beyond FP64", b'{"inputs":[{"name":"features","datatype":"FP32","shape":[1,1],"data":[1e999]}]}', 400, "body"),
    ("huge integer", json.dumps(with_input(data=[10**40] + ROW[1:])).encode(), 400, "inputs[0].data"),
]


@pytest.mark.parametrize(("case", "raw", "status", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_body_gets_a_json_4xx(client: httpx.Client, case: str, raw: bytes, status: int, field: str | None) -> None:
    r = client.post(INFER, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == status, (case, r.text)
    body = r.json()
    assert set(body) == {"error", "field"} and body["error"]
    assert body["field"] == field


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    raw = json.dumps(infer_body([ROW] * 6000)).encode()  # ~400 kB, over the test server's 256 KiB limit
    r = client.post(INFER, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] is None
    chunked = client.post(INFER, content=iter([raw[i:i + 65536] for i in range(0, len(raw), 65536)]))
    assert chunked.status_code == 413  # no content-length: counted while reading
    assert client.post(INFER, json=infer_body()).status_code == 200  # the server is unharmed


def test_a_client_that_sends_the_whole_oversized_body_still_reads_its_413(server) -> None:
    """urllib (like requests) sends all of a body without waiting for `Expect: 100-continue`; a
    server that answers and closes while that body is still arriving resets the connection, and
    the client sees ECONNRESET instead of the 413."""
    raw = json.dumps(infer_body([ROW] * 200_000)).encode()  # ~13 MB, 50x the test server's limit
    request = urllib.request.Request(server.url + INFER, data=raw, headers={"content-type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert json.loads(refused.value.read())["error"].startswith("body larger than")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)
numberish = st.floats(allow_nan=False) | st.integers() | st.text(max_size=3)
fields = st.fixed_dictionaries(
    {},
    optional={"name": st.sampled_from(["features", "x"]) | json_values,
              "datatype": st.sampled_from(["FP32", "FP64", "INT64", "BYTES", "BOOL"]) | json_values,
              "shape": st.lists(st.integers(-2, 20), max_size=3) | json_values,
              "data": st.lists(numberish, max_size=30) | json_values},
)
def to_json(value: object) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    json_values.map(to_json),
    st.fixed_dictionaries({"inputs": st.lists(fields, max_size=3) | json_values},
                          optional={"id": json_values, "parameters": json_values}).map(to_json),
    st.binary(max_size=64),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=bodies, path=st.sampled_from([INFER, "/v2/models/fraudts/infer", "/v2/models/sim/infer"]))
def test_generated_bodies_never_get_a_5xx(client: httpx.Client, raw: bytes, path: str) -> None:
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code < 500, (raw, r.text)
    if r.status_code >= 400:
        assert set(r.json()) == {"error", "field"}


# --- the binary tensor data extension (reference_server/binary_data.py) --------------------------

ROW_BYTES = np.array(ROW, dtype="<f4").tobytes()  # 56 bytes: one [1, 14] FP32 row


def binary_input(size: object, **changes: Any) -> dict[str, Any]:
    return {"name": "features", "datatype": "FP32", "shape": [1, 14], "parameters": {"binary_data_size": size},
            **changes}


def post_binary(client: httpx.Client, header: dict[str, Any], tail: bytes, length: object = None) -> httpx.Response:
    """A binary-extension body: `header` as JSON, then `tail`; the header length is the true one unless given."""
    raw = json.dumps(header).encode()
    declared = len(raw) if length is None else length
    return client.post(INFER, content=raw + tail, headers={"inference-header-content-length": str(declared),
                                                           "content-type": "application/octet-stream"})


BAD_BINARY = [
    ("size past the end", {"inputs": [binary_input(57)]}, ROW_BYTES, None, "inputs[0].parameters.binary_data_size"),
    ("bytes left over", {"inputs": [binary_input(56)]}, ROW_BYTES + b"\0", None, "inputs"),
    ("size vs shape", {"inputs": [binary_input(52)]}, ROW_BYTES[:52], None, "inputs[0]"),
    ("size not a number", {"inputs": [binary_input("56")]}, ROW_BYTES, None, "inputs[0].parameters.binary_data_size"),
    ("negative size", {"inputs": [binary_input(-1)]}, ROW_BYTES, None, "inputs[0].parameters.binary_data_size"),
    ("binary and JSON data", {"inputs": [binary_input(56, data=ROW)]}, ROW_BYTES, None, "inputs[0].data"),
    ("header past the body", {"inputs": [binary_input(56)]}, ROW_BYTES, 10_000, "Inference-Header-Content-Length"),
    ("header not a number", {"inputs": [binary_input(56)]}, ROW_BYTES, "abc", "Inference-Header-Content-Length"),
    ("header cuts the JSON", {"inputs": [binary_input(56)]}, ROW_BYTES, 20, "body"),
    ("BYTES for a tensor model", {"inputs": [binary_input(8, datatype="BYTES", shape=[1, 1])]},
     b"\x04\x00\x00\x00abcd", None, "inputs[0].datatype"),
    ("unknown output", {"inputs": [binary_input(56)], "outputs": [{"name": "nope"}]}, ROW_BYTES, None,
     "outputs[0].name"),
    ("binary_data not a boolean", {"inputs": [binary_input(56)], "outputs": [
        {"name": "fraud_probability", "parameters": {"binary_data": 1}}]}, ROW_BYTES, None,
     "outputs[0].parameters.binary_data"),
    ("binary_data_output not a boolean", {"inputs": [binary_input(56)], "parameters": {"binary_data_output": "yes"}},
     ROW_BYTES, None, "parameters.binary_data_output"),
]


@pytest.mark.parametrize(("case", "header", "tail", "length", "field"), BAD_BINARY, ids=[c[0] for c in BAD_BINARY])
def test_malformed_binary_gets_a_400_naming_the_tensor(client: httpx.Client, case: str, header: dict[str, Any],
                                                       tail: bytes, length: object, field: str | None) -> None:
    r = post_binary(client, header, tail, length)
    assert r.status_code == 400, (case, r.text)
    assert r.json()["field"] == field, r.json()


def test_binary_without_its_header_length_is_not_json(client: httpx.Client) -> None:
    raw = json.dumps({"inputs": [binary_input(56)]}).encode() + ROW_BYTES
    r = client.post(INFER, content=raw, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 400 and r.json() == {"error": "body is not valid JSON", "field": "body"}


def test_a_binary_body_over_the_limit_is_413(client: httpx.Client) -> None:
    rows = np.tile(np.array(ROW, dtype="<f4"), (5000, 1))  # 280 kB of raw rows, over the 256 KiB limit
    r = post_binary(client, {"inputs": [binary_input(rows.nbytes, shape=[5000, 14])]}, rows.tobytes())
    assert r.status_code == 413
    fits = post_binary(client, {"inputs": [binary_input(56)]}, ROW_BYTES)
    assert fits.status_code == 200 and fits.json()["outputs"][0]["shape"] == [1, 1]


binary_fields = st.fixed_dictionaries(
    {"name": st.sampled_from(["features", "x"]), "datatype": st.sampled_from(["FP32", "INT64", "BYTES", "BOOL", "X"]),
     "shape": st.lists(st.integers(0, 20), max_size=3) | st.lists(st.integers(10**6, 10**12), min_size=2, max_size=3)},
    optional={"parameters": st.fixed_dictionaries({}, optional={"binary_data_size": st.integers(-2, 80) | json_values}),
              "data": st.lists(numberish, max_size=30)},
)
binary_headers = st.fixed_dictionaries(
    {"inputs": st.lists(binary_fields, min_size=1, max_size=3)},
    optional={"outputs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["fraud_probability", "service_ms"])},
                                                        optional={"parameters": json_values}), max_size=2)
              | json_values,
              "parameters": st.fixed_dictionaries({}, optional={"binary_data_output": json_values})},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=binary_headers, tail=st.binary(max_size=120), length=st.none() | st.integers(-5, 400),
       path=st.sampled_from([INFER, "/v2/models/sim/infer"]))
def test_generated_binary_bodies_never_get_a_5xx(client: httpx.Client, header: dict[str, Any], tail: bytes,
                                                 length: int | None, path: str) -> None:
    raw = json.dumps(header).encode()
    declared = str(len(raw) if length is None else length)
    r = client.post(path, content=raw + tail, headers={"inference-header-content-length": declared})
    assert r.status_code < 500, (header, tail, declared, r.text)
    if r.status_code >= 400:
        assert set(r.json()) == {"error", "field"}
