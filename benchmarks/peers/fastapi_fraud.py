"""Peer for bench_server.py: a plain FastAPI endpoint serving the same fraud weights.

This is how a model endpoint is commonly written: a pydantic request model, the model
called inline per request (no batching), FastAPI's default JSON response, on the same
uvicorn + uvloop + httptools stack as the reference server. It gets the reference server's
one non-obvious tuning too (gc.freeze after loading), so the comparison is of the request
path, not of garbage-collector pauses.

Run: `python benchmarks/peers/fastapi_fraud.py --version-dir DEMO_REPO/fraud/1 --port 8001`.
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from safetensors.torch import load_file

from reference_server.backends.torch_mlp import build_mlp


class InferInput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float]


class InferRequest(BaseModel):
    inputs: list[InferInput]
    id: str | None = None


def build_app(version_dir: Path) -> FastAPI:
    spec = json.loads((version_dir / "model.json").read_text())
    model = build_mlp(spec["architecture"])
    model.load_state_dict(load_file(str(version_dir / spec["artifact"])))
    model.eval()
    app = FastAPI()

    @app.get("/v2/health/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.post("/v2/models/fraud/infer")
    async def infer(request: InferRequest) -> dict:
        tensor = request.inputs[0]
        x = torch.tensor(tensor.data, dtype=torch.float32).reshape(tensor.shape)
        with torch.inference_mode():
            y = model(x)
        return {"model_name": "fraud", "model_version": version_dir.name, "id": request.id or "",
                "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": list(y.shape),
                             "data": y.flatten().tolist()}]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the same setting the reference server uses on 2 cores
    app = build_app(args.version_dir)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
