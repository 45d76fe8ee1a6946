"""What one oip-v2 request costs to encode (the harness, before the run) and to read (the
reference server, per request), as JSON numbers and as binary tensors, by batch size.

    python -m benchmarks.oip_binary_encode [--rows 1 32 256 2048] [--seconds 0.5] [--json PATH]

Each cell is the median of repeated timings of one whole request: the harness's
`OipClient.encode` (the rendered HTTP request, as the send loop gets it), and the server's
`split_body` → `parse_body` → `oip_inputs` → `tensor_rows` (the rows the batcher gets). Rows
are 14 FP32 features, as the fraud model takes. One process, one core: run it on an idle
machine, with the peer (JSON) measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.clients.base import Endpoint, make_client
from harness.contracts import ModelInfo, Payload
from reference_server.binary_data import split_body
from reference_server.repository import TensorSpec
from reference_server.validation import oip_inputs, parse_body, tensor_rows

FEATURES = 14
SPEC = TensorSpec(name="features", shape=[-1, FEATURES])
INFO = ModelInfo(inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, FEATURES]}])


def median_us(call: Callable[[], object], seconds: float) -> float:
    """The median of per-call times, in rounds of at least 1 ms each, over about `seconds`."""
    start = time.perf_counter()
    per_round = 1
    while True:  # calls per round: enough that a round takes ~1 ms
        began = time.perf_counter()
        for _ in range(per_round):
            call()
        if time.perf_counter() - began >= 1e-3:
            break
        per_round *= 2
    samples = []
    while time.perf_counter() - start < seconds or len(samples) < 5:
        began = time.perf_counter()
        for _ in range(per_round):
            call()
        samples.append((time.perf_counter() - began) / per_round * 1e6)
    return statistics.median(samples)


def client(binary: bool):
    made = make_client("oip-v2", Endpoint("http://127.0.0.1:8000", model="fraud", options={"binary": binary}))
    made._datatypes, made._first = {"features": "FP32"}, "features"  # what describe() learns from INFO
    return made


def server_reads(request: bytes) -> np.ndarray:
    head, _, body = request.partition(b"\r\n\r\n")
    length = next((line.split(b": ")[1] for line in head.split(b"\r\n") if line.startswith(b"inference-header")), None)
    header, binary = split_body(body, length)
    return tensor_rows(oip_inputs(parse_body(header), binary), SPEC)


def measure(rows: int, seconds: float) -> dict[str, float]:
    block = np.random.default_rng(rows).normal(size=(rows, FEATURES)).astype(np.float32)
    payload = Payload(1, block)
    figures: dict[str, float] = {"rows": rows}
    for name, binary in (("json", False), ("binary", True)):
        encoder = client(binary)
        request = encoder.encode(payload)
        np.testing.assert_array_equal(server_reads(request), block)  # both ways carry the same rows
        figures[f"{name}_bytes"] = len(request)
        figures[f"{name}_encode_us"] = median_us(lambda e=encoder: e.encode(payload), seconds)
        figures[f"{name}_read_us"] = median_us(lambda r=request: server_reads(r), seconds)
    return figures


def table(results: list[dict[str, float]]) -> str:
    lines = [("| rows | JSON bytes | binary bytes | encode JSON µs | encode binary µs | encode × | "
              "server read JSON µs | server read binary µs | read × |"),
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['rows']:.0f} | {r['json_bytes']:.0f} | {r['binary_bytes']:.0f} | {r['json_encode_us']:.1f} | "
                     f"{r['binary_encode_us']:.1f} | {r['json_encode_us'] / r['binary_encode_us']:.1f} | "
                     f"{r['json_read_us']:.1f} | {r['binary_read_us']:.1f} | {r['json_read_us'] / r['binary_read_us']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 32, 256, 2048])
    parser.add_argument("--seconds", type=float, default=0.5, help="time spent per cell (default 0.5)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    results = [measure(rows, args.seconds) for rows in args.rows]
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
