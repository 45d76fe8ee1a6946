"""Peer for B3 (benchmarks/b3_server_throughput.py): KServe 0.21.0's ModelServer serving the fraud TorchScript.

A kserve.Model subclass named "fraud" loads the TorchScript export and implements the Open
Inference Protocol v2 predict (InferRequest in, InferResponse out), the way a custom KServe
predictor is written. KServe has no batching; each request runs the model on its own, inline on the
event loop (a synchronous predict is called directly, not in a thread).

Run with the kserve peer venv's python (benchmarks/peers/venvs.py):
`python benchmarks/peers/kserve_fraud.py --model /tmp/peerwork/fraud.pt --port 8102`.

Settings that are not obvious:
- KServe binds REST to 0.0.0.0 with no option to change it, so uvicorn.Config is patched to force
  host 127.0.0.1 (and access_log off: a log line per request) for every server it creates.
- enable_grpc False: otherwise a gRPC server listens on [::]:8081.
- enable_latency_logging False and the kserve.trace logger at WARNING: by default KServe logs a
  latency line per request, and its timing middleware logs several more.
- kserve.model_server parses sys.argv with parse_known_args when imported; our --model is taken as
  an abbreviation of its --model_name, harmlessly, since every value it would use is passed to
  ModelServer explicitly here.
"""

from __future__ import annotations

import argparse
import functools
import logging
from collections.abc import Callable
from pathlib import Path

import kserve
import torch
import uvicorn
from kserve import InferOutput, InferRequest, InferResponse
from kserve.logging import trace_logger

LOOPBACK = "127.0.0.1"
MODEL_NAME = "fraud"
INPUTS = [{"name": "features", "datatype": "FP32", "shape": [-1, 14]}]
OUTPUTS = [{"name": "fraud_probability", "datatype": "FP32", "shape": [-1, 1]}]


class FraudModel(kserve.Model):
    """The fraud MLP from its TorchScript export, [N,14] FP32 features in, [N,1] FP32 probability out."""

    def __init__(self, path: Path):
        super().__init__(MODEL_NAME)
        self._path = path
        self._model: torch.jit.ScriptModule | None = None

    def load(self) -> bool:
        self._model = torch.jit.load(str(self._path))
        self._model.eval()
        self.ready = True
        return self.ready

    def get_input_types(self) -> list[dict]:
        return INPUTS

    def get_output_types(self) -> list[dict]:
        return OUTPUTS

    def predict(self, payload: InferRequest, headers: dict[str, str] | None = None,
                response_headers: dict[str, str] | None = None) -> InferResponse:
        features = payload.inputs[0].as_numpy()
        with torch.inference_mode():
            probability = self._model(torch.from_numpy(features)).numpy()
        output = InferOutput(OUTPUTS[0]["name"], list(probability.shape), OUTPUTS[0]["datatype"])
        output.set_data_from_numpy(probability, binary_data=False)  # plain JSON data, not the binary extension
        return InferResponse(response_id=payload.id, model_name=self.name, infer_outputs=[output])


def _loopback_quiet(init: Callable) -> Callable:
    @functools.wraps(init)
    def wrapper(self: uvicorn.Config, *args: object, **kwargs: object) -> None:
        kwargs.update(host=LOOPBACK, access_log=False)
        init(self, *args, **kwargs)

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="TorchScript export of the fraud model")
    parser.add_argument("--port", type=int, default=8102)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same setting the reference server uses on 2 cores
    uvicorn.Config.__init__ = _loopback_quiet(uvicorn.Config.__init__)
    model = FraudModel(args.model)
    model.load()
    server = kserve.ModelServer(http_port=args.port, workers=1, enable_grpc=False, enable_latency_logging=False)
    trace_logger.setLevel(logging.WARNING)  # after ModelServer(), which configures KServe's logging
    server.start([model])


if __name__ == "__main__":
    main()
