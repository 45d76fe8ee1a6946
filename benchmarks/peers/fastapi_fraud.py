"""Peer for B3: a plain FastAPI endpoint serving the fraud model's TorchScript export.

This is how a model endpoint is commonly written: a pydantic request model, the model
called inline per request (no batching), FastAPI's default JSON response, on the same
uvicorn + uvloop + httptools stack as the reference server. It gets the reference server's
one non-obvious tuning too (gc.freeze after loading), so the comparison is of the request
path, not of garbage-collector pauses.

Run: `python benchmarks/peers/fastapi_fraud.py --model fraud.pt --port 8001`.
"""

from __future__ import annotations

import argparse
import gc
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class InferInput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float]


class InferRequest(BaseModel):
    inputs: list[InferInput]
    id: str | None = None


def build_app(model_path: Path) -> FastAPI:
    model = torch.jit.load(str(model_path))
    model.eval()
    app = FastAPI()

    @app.get("/v2/health/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/v2/models/fraud")
    async def metadata() -> dict:
        return {"name": "fraud", "versions": [], "platform": "pytorch_torchscript",
                "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 14]}],
                "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": [-1, 1]}]}

    @app.post("/v2/models/fraud/infer")
    async def infer(request: InferRequest) -> dict:
        tensor = request.inputs[0]
        x = torch.tensor(tensor.data, dtype=torch.float32).reshape(tensor.shape)
        with torch.inference_mode():
            y = model(x)
        return {"model_name": "fraud", "id": request.id or "",
                "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": list(y.shape),
                             "data": y.flatten().tolist()}]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the TorchScript export")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same setting the reference server uses on 2 cores
    app = build_app(args.model)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
