"""The OIP v2 gRPC interface slogate compiles: wire-compatible with Triton's (the definition
tritonclient ships), its typed tensor contents round-trip, and its status table keeps every
error an error of the same class."""

from __future__ import annotations

import re

import grpc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.grpc import service_pb2 as triton

from slogate_common.oip_grpc import messages
from slogate_common.oip_grpc.status import GRPC_CODE, HTTP_STATUS, grpc_code, http_status
from slogate_common.oip_grpc.tensors import CONTENTS_FIELDS, fill_contents, tensor_values
from slogate_common.raw_tensors import FIXED_DTYPES, encode

RPCS = ["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"]


def _all_messages(descriptor):
    yield descriptor
    for nested in descriptor.nested_types:
        if not nested.GetOptions().map_entry:
            yield from _all_messages(nested)


def _fields(descriptor) -> dict[str, tuple[int, int, int, str | None]]:
    return {f.name: (f.number, f.type, f.label, f.message_type.full_name if f.message_type else None)
            for f in descriptor.fields}


def test_the_service_is_tritons_under_the_same_names() -> None:
    ours = {rpc.name: (rpc.input_type.full_name, rpc.output_type.full_name) for rpc in messages.rpcs()}
    theirs = triton.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name
    assert list(ours) == RPCS
    for name, types in ours.items():
        assert types == (theirs[name].input_type.full_name, theirs[name].output_type.full_name)
    assert messages.method_path("ModelInfer") == "/inference.GRPCInferenceService/ModelInfer"


@pytest.mark.parametrize("name", sorted({rpc.input_type.name for rpc in messages.rpcs()}
                                        | {rpc.output_type.name for rpc in messages.rpcs()}
                                        | {"InferParameter", "InferTensorContents"}))
def test_every_field_has_tritons_number_and_type(name: str) -> None:
    ours = getattr(messages, name).DESCRIPTOR
    for descriptor in _all_messages(ours):
        theirs = triton.DESCRIPTOR.pool.FindMessageTypeByName(descriptor.full_name)
        mine = _fields(descriptor)
        assert mine.items() <= _fields(theirs).items(), descriptor.full_name


def test_a_request_reads_the_same_bytes_in_tritons_classes() -> None:
    request = messages.ModelInferRequest(model_name="fraud", model_version="2", id="7")
    request.inputs.add(name="features", datatype="FP32", shape=[2, 3])
    request.raw_input_contents.append(encode(np.arange(6, dtype=np.float32), "FP32"))
    request.parameters["priority"].int64_param = 3
    parsed = triton.ModelInferRequest.FromString(request.SerializeToString())
    assert (parsed.model_name, parsed.model_version, parsed.id) == ("fraud", "2", "7")
    assert (parsed.inputs[0].name, list(parsed.inputs[0].shape)) == ("features", [2, 3])
    assert parsed.parameters["priority"].int64_param == 3
    assert parsed.raw_input_contents[0] == request.raw_input_contents[0]


shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)


@given(st.sampled_from(sorted(set(CONTENTS_FIELDS) - {"BYTES"})), st.data())
def test_typed_contents_round_trip(datatype: str, data: st.DataObject) -> None:
    array = data.draw(hnp.arrays(FIXED_DTYPES[datatype], shapes))
    contents = messages.InferTensorContents()
    fill_contents(contents, array, datatype)
    np.testing.assert_array_equal(tensor_values(datatype, array.shape, contents, None), array)


@given(st.lists(st.binary(max_size=8), max_size=6))
def test_bytes_contents_round_trip(elements: list[bytes]) -> None:
    contents = messages.InferTensorContents()
    fill_contents(contents, np.array(elements + [None], dtype=object)[:-1], "BYTES")
    assert tensor_values("BYTES", [len(elements)], contents, None).tolist() == elements


@pytest.mark.parametrize(
    ("datatype", "shape", "contents", "message"),
    [
        ("FP32", [2], {"fp32_contents": [1.0]}, "1 values in fp32_contents, shape [2] needs 2"),
        ("INT8", [1], {"int_contents": [300]}, "outside INT8"),
        ("FP16", [1], {}, "no typed contents field"),
        ("FP32", [1], {"int_contents": [1]}, "0 values in fp32_contents"),
    ],
)
def test_contents_that_do_not_fit_are_named(datatype: str, shape: list[int], contents: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        tensor_values(datatype, shape, messages.InferTensorContents(**contents), None)


def test_raw_contents_win_over_typed_ones() -> None:
    raw = encode(np.array([1.5], dtype=np.float32), "FP32")
    contents = messages.InferTensorContents(fp32_contents=[9.0])
    assert tensor_values("FP32", [1], contents, raw).tolist() == [1.5]


@pytest.mark.parametrize("status", sorted(set(GRPC_CODE) - {413}))
def test_each_status_a_server_sends_comes_back_as_itself(status: int) -> None:
    assert http_status(grpc_code(status)) == status


@given(st.integers(400, 599))
def test_an_error_status_keeps_its_class_through_grpc(status: int) -> None:
    code = grpc_code(status)
    assert code is not grpc.StatusCode.OK
    assert http_status(code) // 100 == status // 100


def test_every_grpc_code_has_a_status() -> None:
    assert set(HTTP_STATUS) == set(grpc.StatusCode)
