"""Peer for B3 (benchmarks/b3_server_throughput.py): MLServer 1.7.1 serving the fraud TorchScript through a custom runtime.

MLServer has no TorchScript runtime, so `FraudRuntime` below is the usual custom one: load with
torch.jit.load, predict with the numpy codec. mlserver_launch.py writes settings.json and
model-settings.json into a temporary repository and starts MLServer on it the way `mlserver start`
does, in this process, so SIGTERM/SIGINT reach MLServer's own handlers.

Run with the mlserver peer venv's python (benchmarks/peers/venvs.py):
`python benchmarks/peers/mlserver_fraud.py --model /tmp/peerwork/fraud.pt --port 8101
[--grpc-port 8102] [--max-batch-size 0] [--max-batch-time-ms 0]`.

Settings that are not obvious:
- host 127.0.0.1: MLServer binds every server it starts (REST, gRPC, metrics) to this one host.
- grpc_port: the gRPC server cannot be turned off, only moved; unless --grpc-port names one (to load
  it over gRPC), a free loopback port keeps it out of the way of --port and of a second instance.
- metrics_endpoint null: no metrics server, and no Prometheus middleware on the REST path.
- debug false: no uvicorn access log (a line per request) and INFO rather than DEBUG logging.
- parallel_workers 0: the model runs in the server process; the default pool of worker processes
  adds an IPC hop per request and is slower on 2 cores.
- max_batch_size/max_batch_time: MLServer's adaptive batching, off by default. It is only enabled
  when both size > 1 and time > 0; batched [1,14] requests reach predict as one [N,14] input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri
from mlserver_launch import serve_model

MODEL_NAME = "fraud"
OUTPUT_NAME = "fraud_probability"
# MLServer imports the runtime by dotted path; this file's directory goes on sys.path for it.
IMPLEMENTATION = f"{Path(__file__).stem}.FraudRuntime"


class FraudRuntime(MLModel):
    """The fraud MLP from its TorchScript export, [N,14] FP32 features in, [N,1] FP32 probability out."""

    async def load(self) -> bool:
        torch.set_num_threads(1)  # the same setting the reference server uses on 2 cores
        self._model = torch.jit.load(await get_model_uri(self.settings))
        self._model.eval()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        features = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
        with torch.inference_mode():
            probability = self._model(torch.from_numpy(features)).numpy()
        return InferenceResponse(model_name=self.name, id=payload.id,
                                 outputs=[NumpyCodec.encode_output(OUTPUT_NAME, probability)])


def model_settings(model: Path, max_batch_size: int, max_batch_time_ms: float) -> dict:
    return {
        "name": MODEL_NAME,
        "implementation": IMPLEMENTATION,
        "parameters": {"uri": str(model.resolve())},
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 14]}],
        "outputs": [{"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1, 1]}],
        "max_batch_size": max_batch_size,
        "max_batch_time": max_batch_time_ms / 1000,  # MLServer wants seconds
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="TorchScript export of the fraud model")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--grpc-port", type=int, default=None, help="MLServer's OIP v2 gRPC port (default: a free one)")
    parser.add_argument("--max-batch-size", type=int, default=0)
    parser.add_argument("--max-batch-time-ms", type=float, default=0.0)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    serve_model(model_settings(args.model, args.max_batch_size, args.max_batch_time_ms), args.port, args.grpc_port)


if __name__ == "__main__":
    main()
