"""Properties of the /v2 infer parser, in process: the path a body takes in fronts/oip.py before any
model runs (split at Inference-Header-Content-Length, parse the JSON header, the OIP envelope with
its binary inputs, then a tensor model's rows or a sim model's row count).

Whatever the bytes, the parser answers a 400 that names the field, or a parse; never another
exception (the server would answer it 500). A valid tensor, sent as JSON (flat or nested) or as
binary data, parses to exactly the values sent.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference_server.binary_data import split_body
from reference_server.errors import RequestError
from reference_server.repository import TensorSpec
from reference_server.validation import MAX_ROWS, oip_inputs, parse_body, request_rows, tensor_rows
from slogate_common.raw_tensors import DATATYPES, FIXED_DTYPES, encode

FEATURES = 14
SPEC = TensorSpec(name="features", datatype="FP32", shape=[-1, FEATURES])


def parse(raw: bytes, header_length: bytes | None, spec: TensorSpec | None) -> np.ndarray | int:
    """What fronts/oip.py does with a body before the model: rows for a tensor model, a count for sim."""
    header, binary = split_body(raw, header_length)
    inputs = oip_inputs(parse_body(header), binary)
    return tensor_rows(inputs, spec) if spec is not None else request_rows(inputs)


def parses_or_names_the_field(raw: bytes, header_length: bytes | None, spec: TensorSpec | None) -> None:
    try:
        parse(raw, header_length, spec)
    except RequestError as e:
        assert e.status == 400, (e.status, e.error)
        assert e.field, f"400 without a field: {e.error}"


# --- anything goes: never an exception but a 400 naming the field ------------------------------

huge = st.sampled_from([MAX_ROWS + 1, 2**31, 2**32 + 1, 10**12, 2**63 - 1, 2**64, 10**30])
dimension = st.integers(-3, 20) | huge | st.sampled_from([1.0, "2", None, True, [1]])
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=40)
datatype = st.sampled_from(sorted(DATATYPES)) | st.text(max_size=6) | st.integers() | st.lists(st.integers(), max_size=2)
parameters = st.fixed_dictionaries({}, optional={"binary_data_size": st.integers(-3, 200) | huge | scalars})
tensor_fields = {"name": st.sampled_from(["features", "x"]) | scalars, "datatype": datatype,
                 "shape": st.lists(dimension, max_size=4) | scalars, "data": nested}
# any field may be missing; or all are there, so that the later checks see odd values too
tensor = (st.fixed_dictionaries({}, optional={**tensor_fields, "parameters": parameters})
          | st.fixed_dictionaries({**tensor_fields, "name": st.just("features")}, optional={"parameters": parameters}))
envelope = st.fixed_dictionaries(
    {"inputs": st.lists(tensor, max_size=3) | scalars},
    optional={"id": scalars, "parameters": st.fixed_dictionaries({}, optional={"binary_data_output": scalars}),
              "outputs": nested},
)


def _non_utf8(raw: bytes, at: int) -> bytes:
    """`raw` with bytes that are no UTF-8 spliced in (inside a string, or anywhere)."""
    at = at % (len(raw) + 1)
    return raw[:at] + b"\xff\xfe\xc3(" + raw[at:]


json_bodies = envelope.map(lambda b: json.dumps(b).encode())
bodies = (json_bodies | st.binary(max_size=200)
          | st.tuples(json_bodies, st.integers(0, 10_000)).map(lambda t: _non_utf8(*t)))
header_lengths = st.none() | st.integers(-5, 400).map(lambda n: str(n).encode()) | st.binary(max_size=4)


@settings(max_examples=250, deadline=None)
@given(body=envelope, spec=st.sampled_from([SPEC, None]))
@example(body={"inputs": [{"name": "features", "datatype": ["FP32"], "shape": [1], "data": [0]}]}, spec=None)  # unhashable
def test_any_json_envelope_parses_or_gets_a_400_naming_the_field(body: dict[str, Any],
                                                                spec: TensorSpec | None) -> None:
    parses_or_names_the_field(json.dumps(body).encode(), None, spec)


@settings(max_examples=150, deadline=None)
@given(raw=bodies, tail=st.binary(max_size=120), header_length=header_lengths,
       spec=st.sampled_from([SPEC, None]))
def test_any_body_parses_or_gets_a_400_naming_the_field(raw: bytes, tail: bytes, header_length: bytes | None,
                                                        spec: TensorSpec | None) -> None:
    parses_or_names_the_field(raw + (tail if header_length is not None else b""), header_length, spec)


@settings(max_examples=120, deadline=None)
@given(shape=st.lists(st.sampled_from([0, 1, 3]) | huge, min_size=1, max_size=4),
       datatype=st.sampled_from(sorted(DATATYPES)), tail=st.binary(max_size=64), spec=st.sampled_from([SPEC, None]))
@example(shape=[0, 2**64], datatype="FP32", tail=b"", spec=None)  # no bytes, yet no array can have that shape
def test_huge_binary_shapes_are_refused_without_allocating(shape: list[int], datatype: str, tail: bytes,
                                                           spec: TensorSpec | None) -> None:
    header = json.dumps({"inputs": [{"name": "features", "datatype": datatype, "shape": shape,
                                     "parameters": {"binary_data_size": len(tail)}}]}).encode()
    parses_or_names_the_field(header + tail, str(len(header)).encode(), spec)


@pytest.mark.parametrize("rows", [MAX_ROWS + 1, 10**9, 2**63])
def test_a_sim_request_claiming_billions_of_rows_is_refused(rows: int) -> None:
    """The sim backend answers one value per row: a claimed 10^9 rows was a 4 GB allocation."""
    raw = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [rows, 1], "data": []}]}).encode()
    with pytest.raises(RequestError) as refused:
        parse(raw, None, None)
    assert refused.value.status == 400 and refused.value.field == "inputs[0].shape"


# --- a valid tensor round-trips ----------------------------------------------------------------

finite_fp32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
fraud_rows = hnp.arrays(np.float32, st.tuples(st.integers(1, 8), st.just(FEATURES)), elements=finite_fp32)


def _fp32_request(rows: np.ndarray, data: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "features", "datatype": "FP32", "shape": list(rows.shape), "data": data}]}


@settings(max_examples=120, deadline=None)
@given(rows=fraud_rows, nest=st.booleans())
def test_json_rows_round_trip(rows: np.ndarray, nest: bool) -> None:
    data = rows.tolist() if nest else rows.reshape(-1).tolist()
    parsed = parse(json.dumps(_fp32_request(rows, data)).encode(), None, SPEC)
    assert isinstance(parsed, np.ndarray) and parsed.dtype == np.float32
    np.testing.assert_array_equal(parsed, rows)


@settings(max_examples=120, deadline=None)
@given(rows=fraud_rows)
def test_binary_rows_round_trip(rows: np.ndarray) -> None:
    raw = encode(rows, "FP32")
    header = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": list(rows.shape),
                                     "parameters": {"binary_data_size": len(raw)}}]}).encode()
    parsed = parse(header + raw, str(len(header)).encode(), SPEC)
    np.testing.assert_array_equal(parsed, rows)


shapes = st.lists(st.integers(0, 4), min_size=1, max_size=3)


@st.composite
def typed_tensors(draw: st.DrawFn) -> tuple[str, np.ndarray]:
    """Any OIP datatype's array; BYTES elements are arbitrary bytes, UTF-8 or not."""
    datatype = draw(st.sampled_from(sorted(DATATYPES)))
    shape = tuple(draw(shapes))
    if datatype == "BYTES":
        count = int(np.prod(shape))
        elements = np.empty(count, dtype=object)
        elements[:] = draw(st.lists(st.binary(max_size=12), min_size=count, max_size=count))
        return datatype, elements.reshape(shape)
    return datatype, draw(hnp.arrays(FIXED_DTYPES[datatype], shape))


@settings(max_examples=150, deadline=None)
@given(tensors=st.lists(typed_tensors(), min_size=1, max_size=3))
def test_every_datatype_round_trips_through_the_binary_extension(tensors: list[tuple[str, np.ndarray]]) -> None:
    raws = [encode(array, datatype) for datatype, array in tensors]
    header = json.dumps({"inputs": [
        {"name": f"t{i}", "datatype": datatype, "shape": list(array.shape), "parameters": {"binary_data_size": len(raw)}}
        for i, ((datatype, array), raw) in enumerate(zip(tensors, raws, strict=True))]}).encode()
    head, binary = split_body(header + b"".join(raws), str(len(header)).encode())
    inputs = oip_inputs(parse_body(head), binary)
    for item, (datatype, array) in zip(inputs, tensors, strict=True):
        assert item["data"].shape == array.shape
        np.testing.assert_array_equal(item["data"], array)  # NaN payloads compare equal to themselves here
