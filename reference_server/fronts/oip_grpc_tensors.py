"""ModelInfer's messages and the OIP front's shapes: a request's tensors as the inputs /v2's JSON
gives (name, datatype, shape, data), and an answer's outputs as raw_output_contents."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from slogate_common.oip_grpc.messages import ModelInferResponse
from slogate_common.oip_grpc.tensors import tensor_values
from slogate_common.raw_tensors import encode

from ..errors import RequestError
from ..validation import bad
from .oip import DATATYPES, Served

_DATA_FIELD = re.compile(r"inputs\[(\d+)\]\.data")


def request_inputs(request: Any) -> list[dict[str, Any]]:
    """The ModelInferRequest's inputs, each tensor's data decoded from its raw_input_contents
    entry or from its typed contents; what does not fit is a 400 naming the field."""
    if not request.inputs:
        raise bad("inputs must be a non-empty list", "inputs")
    raws = request.raw_input_contents
    if raws and len(raws) != len(request.inputs):
        raise bad(f"raw_input_contents holds {len(raws)} tensors for {len(request.inputs)} inputs",
                  "raw_input_contents")
    return [_input(i, tensor, raws[i] if raws else None) for i, tensor in enumerate(request.inputs)]


def _input(index: int, tensor: Any, raw: bytes | None) -> dict[str, Any]:
    where = f"inputs[{index}]"
    if raw is not None and tensor.HasField("contents"):
        raise bad("give the tensor in contents or in raw_input_contents, not both", f"{where}.contents")
    shape = list(tensor.shape)
    if any(d < 0 for d in shape):
        raise bad("shape must be a list of non-negative integers", f"{where}.shape")
    try:
        data = tensor_values(tensor.datatype, shape, tensor.contents, raw)
    except ValueError as exc:
        raise bad(str(exc), data_field(index, raw is not None)) from None
    return {"name": tensor.name, "datatype": tensor.datatype, "shape": shape, "data": data}


def data_field(index: int, raw: bool) -> str:
    """Where input `index`'s data lies in a ModelInferRequest."""
    return f"raw_input_contents[{index}]" if raw else f"inputs[{index}].contents"


def in_grpc_terms(error: RequestError, request: Any) -> RequestError:
    """The error with a JSON field (`inputs[0].data`) renamed to where gRPC carries it."""
    match = _DATA_FIELD.fullmatch(error.field or "")
    if match is None:
        return error
    error.field = data_field(int(match[1]), bool(request.raw_input_contents))
    return error


def infer_response(served: Served, request_id: str) -> Any:
    """The answer as a ModelInferResponse, its tensors in raw_output_contents (as Triton answers,
    and tritonclient reads); a nan fault's outputs all NaN."""
    response = ModelInferResponse(model_name=served.loaded.model, model_version=served.loaded.version, id=request_id)
    for name, array in served.outputs.items():
        datatype = DATATYPES.get(array.dtype, "FP32")
        response.outputs.add(name=name, datatype=datatype, shape=array.shape)
        response.raw_output_contents.append(encode(np.full(array.shape, np.nan) if served.nan else array, datatype))
    return response
