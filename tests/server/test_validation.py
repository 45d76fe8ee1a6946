"""Bad input always gets a 4xx JSON error naming the field, never a 5xx."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import httpx
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
    ("not json", b"{inputs:", 400, None),
    ("json array", b"[1, 2]", 400, None),
    ("empty body", b"", 400, None),
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
    ("NaN", json.dumps(with_input(data=[float("nan")] + ROW[1:])).encode(), 400, None),  # NaN is not JSON
    ("Infinity", json.dumps(with_input(data=[float("inf")] + ROW[1:])).encode(), 400, None),
    ("beyond FP32", json.dumps(with_input(data=[1e300] + ROW[1:])).encode(), 400, "inputs[0].data"),
    ("beyond FP64", b'{"inputs":[{"name":"features","datatype":"FP32","shape":[1,1],"data":[1e999]}]}', 400, None),
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
