"""Peer: MLServer 1.7.1 serving a model known only by its metadata, for the harness's
metadata-only payloads (tests/harness/test_strangers.py).

The model declares the inputs given as JSON (name, datatype, shape; -1 dynamic) and publishes
no baseline statistics, as a stranger's model would. It checks each request against that
declaration (names, datatypes, ranks, fixed dimensions) and answers 400 naming the first
mismatch; otherwise it answers each request's row count as `rows` [N, 1] FP32.

Run with the peer venv's python (the test's SCHEMA_PEER; benchmarks/peers/venvs.py builds it):
`python benchmarks/peers/mlserver_schema.py --port 8102 --inputs '[{"name": "ids", "datatype": "INT64", "shape": [-1, 3]}]'`.
Settings as benchmarks/peers/mlserver_fraud.py explains: loopback only, no metrics server, the
model in the server process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np
from mlserver import MLModel, MLServer
from mlserver.cli.serve import load_settings
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.logging import configure_logger
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import install_uvloop_event_loop

LOOPBACK = "127.0.0.1"
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


def write_repository(folder: Path, inputs: list[dict], port: int) -> None:
    settings = {"host": LOOPBACK, "http_port": port, "grpc_port": free_port(), "metrics_endpoint": None,
                "debug": False, "parallel_workers": 0}
    model_settings = {"name": MODEL_NAME, "implementation": IMPLEMENTATION, "inputs": inputs,
                      "outputs": [{"name": "rows", "datatype": "FP32", "shape": [-1, 1]}]}
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    (folder / MODEL_NAME).mkdir()
    (folder / MODEL_NAME / "model-settings.json").write_text(json.dumps(model_settings, indent=2))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


async def serve(folder: Path) -> None:
    settings, models_settings = await load_settings(str(folder))
    await MLServer(settings).start(models_settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", required=True, help="the declared inputs, as JSON")
    parser.add_argument("--port", type=int, default=8102)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    with tempfile.TemporaryDirectory(prefix="mlserver-schema-") as folder:
        write_repository(Path(folder), json.loads(args.inputs), args.port)
        configure_logger()
        install_uvloop_event_loop()
        asyncio.run(serve(Path(folder)))


if __name__ == "__main__":
    main()
