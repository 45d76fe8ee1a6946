"""B12: the reference server over HTTPS against plain HTTP. Two server processes serve the
demo's sim model (a constant 10 ms asyncio sleep), one with --tls-cert/--tls-key and a
self-signed certificate made for the run, one without; slogate loads both at the same fixed
Poisson rates over keep-alive connections, verifying the certificate through target.tls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import psutil

from benchmarks.processes import reference_server, serving
from benchmarks.suite import Context, register
from benchmarks.two_arms import Arm, TwoArms
from harness.targets.certificate import self_signed
from reference_server.demo.repository import ensure_demo_repo

P50_RATIO_GOAL = 1.10  # HTTPS's median latency at most 10% over HTTP's

METHOD = """
Two reference server processes serve the demo's `sim` model, one over HTTPS (an ECDSA P-256
self-signed certificate for 127.0.0.1, made for the run) and one over HTTP. For each round and
rate, slogate sends Poisson arrivals of one-row tabular payloads for a fixed time to each, in an
order that alternates by round, over its lean HTTP/1.1 keep-alive pool (TLS through asyncio's SSL
transport, the certificate verified against the run's CA bundle). Handshakes happen when the pool
opens a connection, so what the steps measure is mostly the per-request cost of encryption, in
latency from the intended send time and in the server's CPU per request. The headline is the
median over rounds of the per-round HTTPS / HTTP ratio, with a percentile bootstrap interval.
"""

NOTES = [
    ("Two processes, so each arm has its own event loop and model; both are started before the first "
     "step and serve every round."),
    "Neither arm's generator CPU is counted: it shares the 2 cores with the servers.",
]


@register("B12")
class HttpsAgainstHttp(TwoArms):
    key = "B12"
    title = "The reference server over HTTPS against HTTP: the same sim model, fixed rates"
    micro = ()  # whole runs against two servers; no single hot path decides the ratio
    work_name = "b12"
    baseline, candidate = "HTTP", "HTTPS"
    goal_ratio = P50_RATIO_GOAL
    method, notes = METHOD, NOTES

    @contextmanager
    def arms(self, ctx: Context, work: Path) -> Iterator[dict[str, Arm]]:
        repo = ensure_demo_repo(ctx.cache)
        cert, key = self_signed(work)
        plain = reference_server(repo, "sim", name="reference-http")
        secure = reference_server(repo, "sim", name="reference-https")
        secure = replace(secure, argv=[*secure.argv, "--tls-cert", str(cert), "--tls-key", str(key)], ca_bundle=cert)
        with ExitStack() as stack:
            servers = {name: stack.enter_context(serving(command, work))
                       for name, command in ((self.baseline, plain), (self.candidate, secure))}
            extra = {self.baseline: "", self.candidate: f", tls: {{ca_bundle: {cert}}}"}
            yield {name: Arm(server.base_url, "oip-v2", psutil.Process(server.process.pid), extra[name])
                   for name, server in servers.items()}
