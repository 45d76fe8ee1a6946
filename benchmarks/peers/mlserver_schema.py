"""Peer: MLServer 1.7.1 serving a model known only by its metadata, for the harness's
metadata-only payloads (tests/harness/test_strangers.py).

The model declares the inputs given as JSON (name, datatype, shape; -1 dynamic) and publishes
no baseline statistics, as a stranger's model would. It checks each request against that
declaration (names, datatypes, ranks, fixed dimensions) and answers 400 naming the first
mismatch; otherwise it answers each request's row count as `rows` [N, 1] FP32.

Run with the peer venv's python (the test's SCHEMA_PEER; benchmarks/peers/venvs.py builds it):
`python benchmarks/peers/mlserver_schema.py --port 8102 --inputs '[{"name": "ids", "datatype": "INT64", "shape": [-1, 3]}]'`.
Started by mlserver_launch.py with the settings benchmarks/peers/mlserver_fraud.py explains:
loopback only, no metrics server, the model in the server process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver_launch import serve_model

MODEL_NAME = "schema"
IMPLEMENTATION = f"{Path(__file__).stem}.SchemaRuntime"


class SchemaRuntime(MLModel):
    """Refuses what its metadata does not declare; answers each request's row count."""

    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        declared = {tensor.name: tensor for tensor in self.inputs or []}
        if {tensor.name for tensor in payload.inputs} != set(declared):
            raise InferenceError(f"inputs {[t.name for t in payload.inputs]}; the model takes {sorted(declared)}")
        for tensor in payload.inputs:
            expected = declared[tensor.name]
            fixed = [(sent, want) for sent, want in zip(tensor.shape, expected.shape) if want != -1]
            if tensor.datatype != expected.datatype or len(tensor.shape) != len(expected.shape) or \
                    any(sent != want for sent, want in fixed):
                raise InferenceError(f"{tensor.name}: {tensor.datatype} {tensor.shape}, declared "
                                     f"{expected.datatype} {expected.shape}")
        rows = payload.inputs[0].shape[0]
        return InferenceResponse(model_name=self.name, id=payload.id,
                                 outputs=[NumpyCodec.encode_output("rows", np.full((rows, 1), rows, np.float32))])


def model_settings(inputs: list[dict]) -> dict:
    return {"name": MODEL_NAME, "implementation": IMPLEMENTATION, "inputs": inputs,
            "outputs": [{"name": "rows", "datatype": "FP32", "shape": [-1, 1]}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", required=True, help="the declared inputs, as JSON")
    parser.add_argument("--port", type=int, default=8102)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    serve_model(model_settings(json.loads(args.inputs)), args.port)


if __name__ == "__main__":
    main()
