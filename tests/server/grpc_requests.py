"""ModelInferRequests of the fraud model for the gRPC tests, built from the bare messages."""

from __future__ import annotations

from typing import Any

import numpy as np
from server_process import ROW

from slogate_common.oip_grpc import messages
from slogate_common.raw_tensors import encode

ROWS = np.array([ROW, [v * 2 for v in ROW]], dtype=np.float32)


def fraud_request(rows: np.ndarray = ROWS, version: str = "", typed: bool = False) -> Any:
    """`rows` as the fraud model's input, in raw_input_contents or (typed) in fp32_contents."""
    request = messages.ModelInferRequest(model_name="fraud", model_version=version, id="req-1")
    tensor = request.inputs.add(name="features", datatype="FP32", shape=rows.shape)
    if typed:
        tensor.contents.fp32_contents.extend(rows.ravel().tolist())
    else:
        request.raw_input_contents.append(encode(rows, "FP32"))
    return request
