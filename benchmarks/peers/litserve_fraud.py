"""Peer for B3: LitServe (Lightning AI's serving framework, sold as faster than FastAPI)
serving the fraud model's TorchScript export over the OIP v2 infer route.

One inference worker on CPU, no batching (its default), the model called per request as
LitServe's docs show; the OIP metadata route slogate reads first is added to LitServe's own
FastAPI app. It binds 127.0.0.1 only (`run(host=...)`; its default is 0.0.0.0).

Run: `python benchmarks/peers/litserve_fraud.py --model fraud.pt --port 8001`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import litserve as ls
import torch

METADATA = {"name": "fraud", "versions": [], "platform": "pytorch_torchscript",
            "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 14]}],
            "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": [-1, 1]}]}


class FraudAPI(ls.LitAPI):
    def __init__(self, model_path: Path) -> None:
        super().__init__(api_path="/v2/models/fraud/infer")
        self.model_path = model_path

    def setup(self, device: str) -> None:
        torch.set_num_threads(1)  # the same setting the reference server uses on 2 cores
        self.model = torch.jit.load(str(self.model_path))
        self.model.eval()

    def decode_request(self, request: dict) -> tuple[torch.Tensor, str]:
        tensor = request["inputs"][0]
        return torch.tensor(tensor["data"], dtype=torch.float32).reshape(tensor["shape"]), request.get("id", "")

    def predict(self, x: tuple[torch.Tensor, str]) -> tuple[torch.Tensor, str]:
        with torch.inference_mode():
            return self.model(x[0]), x[1]

    def encode_response(self, output: tuple[torch.Tensor, str]) -> dict:
        y, request_id = output
        return {"model_name": "fraud", "id": request_id,
                "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": list(y.shape),
                             "data": y.flatten().tolist()}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the TorchScript export")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    server = ls.LitServer(FraudAPI(args.model), accelerator="cpu", workers_per_device=1,
                          healthcheck_path="/v2/health/ready")
    server.app.get("/v2/models/fraud")(lambda: METADATA)
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False, log_level="warning")


if __name__ == "__main__":
    main()
