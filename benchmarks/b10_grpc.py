"""B10: the reference server over gRPC against HTTP. One server process answers both (its
--grpc-port beside its --port) for the demo's sim model, whose answer is a constant 10 ms
asyncio sleep, so what lies beyond 10 ms is the transport, parsing and the send path. slogate
loads it at fixed Poisson rates over oip-v2 and over oip-v2-grpc, the two arms interleaved and
their order alternating by round, so the machine's drift falls on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from benchmarks.processes import free_port, reference_server, serving
from benchmarks.suite import Context, register
from benchmarks.two_arms import Arm, TwoArms
from reference_server.demo.repository import ensure_demo_repo

SERVICE_MS = 10.0  # the demo sim model's constant service time
P50_RATIO_GOAL = 1.25  # gRPC's median latency at most this much HTTP's

METHOD = f"""
One reference server process serves the demo's `sim` model (a constant {SERVICE_MS:g} ms asyncio
sleep) on HTTP and, with `--grpc-port`, on gRPC. For each round and rate, slogate sends Poisson
arrivals of one-row tabular payloads for a fixed time over `oip-v2` (HTTP/1.1, JSON, its lean
pool) and over `oip-v2-grpc` (one HTTP/2 channel, raw tensors), in an order that alternates by
round. Latency counts from each request's intended send time, as in every slogate run; the
server's CPU per request is its process's CPU time over the step divided by the requests sent.
The headline is the median over rounds of the per-round gRPC / HTTP ratio, with a percentile
bootstrap interval over rounds; the goal counts as met only when that interval lies under it.
"""

NOTES = [
    ("Both arms run against the same server process, so its model, batching and event loop are the same; "
     "only the front and the client differ."),
    ("grpc.aio in Python spends more CPU per call than a raw-ASGI JSON request of one row; the ratio "
     "shows how much of that reaches latency at each rate."),
]


@register("B10")
class GrpcAgainstHttp(TwoArms):
    key = "B10"
    title = "The reference server over gRPC against HTTP: the same sim model, the same process, fixed rates"
    micro = ()  # both arms are whole runs against one server; no single hot path decides the ratio
    work_name = "b10"
    baseline, candidate = "HTTP/1.1 JSON", "gRPC"
    goal_ratio = P50_RATIO_GOAL
    method, notes = METHOD, NOTES

    @contextmanager
    def arms(self, ctx: Context, work: Path) -> Iterator[dict[str, Arm]]:
        grpc_port = free_port()
        command = reference_server(ensure_demo_repo(ctx.cache), "sim", name="reference-grpc")
        command.argv += ["--grpc-port", str(grpc_port)]
        with serving(command, work) as server:
            process = psutil.Process(server.process.pid)
            yield {self.baseline: Arm(server.base_url, "oip-v2", process),
                   self.candidate: Arm(f"grpc://127.0.0.1:{grpc_port}", "oip-v2-grpc", process)}
