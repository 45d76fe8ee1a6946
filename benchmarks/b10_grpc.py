"""B10: the reference server over gRPC against HTTP. One server process answers both (its
--grpc-port beside its --port) for the demo's sim model, whose answer is a constant 10 ms
asyncio sleep, so what lies beyond 10 ms is the transport, parsing and the send path. slogate
loads it at fixed Poisson rates over oip-v2 and over oip-v2-grpc, the two arms interleaved and
their order alternating by round, so the machine's drift falls on both.
"""

from __future__ import annotations

import statistics

import psutil

from benchmarks.b4_llm import PairedRatio, paired_ratio
from benchmarks.processes import free_port, reference_server, serving
from benchmarks.slogate_cli import run_slogate
from benchmarks.suite import BenchResult, Context, Table, at_most_surely, register
from reference_server.demo.repository import ensure_demo_repo

SERVICE_MS = 10.0  # the demo sim model's constant service time
SLO_MS = 25.0
ARMS = {"HTTP/1.1 JSON": "oip-v2", "gRPC": "oip-v2-grpc"}
P50_RATIO_GOAL = 1.25  # gRPC's median latency at most this much HTTP's

SCENARIO = """\
name: {name}
seed: {seed}
target: {{url: http://placeholder, model: sim, protocol: {protocol}, request_timeout: 2s}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {{process: poisson, rate: {rate}}}}}
  warmup: 1s
  payload: {{generator: tabular, rows: 1}}
slos:
  - p99(latency) < {slo_ms:g}ms
analysis:
  max_lag_p99: 5ms   # the generator shares 2 cores with the server; lag still counts in latency
"""


@register("B10")
class GrpcAgainstHttp:
    title = "The reference server over gRPC against HTTP: the same sim model, the same process, fixed rates"
    micro = ()  # both arms are whole runs against one server; no single hot path decides the ratio

    def run(self, ctx: Context) -> BenchResult:
        rates = ctx.mode.pick([200, 1000, 2000], [200, 1000], tiny=[100])
        rounds = ctx.mode.pick(5, 3, tiny=1)
        seconds = ctx.mode.pick(6.0, 4.0, tiny=2.0)
        work = ctx.work / "b10"
        work.mkdir(parents=True, exist_ok=True)
        grpc_port = free_port()
        command = reference_server(ensure_demo_repo(ctx.cache), "sim", name="reference-grpc")
        command.argv += ["--grpc-port", str(grpc_port)]
        with serving(command, work) as server:
            urls = {"HTTP/1.1 JSON": server.base_url, "gRPC": f"grpc://127.0.0.1:{grpc_port}"}
            process = psutil.Process(server.process.pid)
            steps = [self._step(ctx, work, process, index, arm, urls[arm], rate, seconds)
                     for index in range(1, rounds + 1) for rate in rates
                     for arm in (list(ARMS) if index % 2 else list(ARMS)[::-1])]
        return self._result(steps, rates, rounds, seconds)

    def _step(self, ctx: Context, work, process: psutil.Process, index: int, arm: str, url: str, rate: int,
              seconds: float) -> dict:
        name = f"b10-{ARMS[arm]}-{rate}-{index}"
        scenario = SCENARIO.format(name=name, seed=index, protocol=ARMS[arm], seconds=seconds + 1, rate=rate,
                                   slo_ms=SLO_MS)
        cpu_before = _cpu_s(process)
        summary = run_slogate(name, scenario, url, work).summary
        latency = summary["latency_ms"]
        step = {"round": index, "arm": arm, "rate": rate, "achieved": summary["load"]["achieved_rate"],
                "p50_ms": latency["p50"], "p99_ms": latency["p99"], "errors": summary["errors"]["total"],
                "server_cpu_us": (_cpu_s(process) - cpu_before) / max(summary["load"]["requests"], 1) * 1e6,
                "meets_slo": summary["verdict"] == "pass"}
        ctx.log(f"  round {index} {arm:>13} {rate:>5}/s -> p50 {step['p50_ms']:.2f} p99 {step['p99_ms']:.2f} ms, "
                f"server {step['server_cpu_us']:.0f} us/request, errors {step['errors']}")
        return step

    def _result(self, steps: list[dict], rates: list[int], rounds: int, seconds: float) -> BenchResult:
        def series(arm: str, rate: int, key: str) -> list[float]:
            return [s[key] for s in sorted(steps, key=lambda s: s["round"]) if s["arm"] == arm and s["rate"] == rate]

        def grpc_over_http(rate: int, key: str) -> PairedRatio:
            return paired_ratio(series("gRPC", rate, key), series("HTTP/1.1 JSON", rate, key))

        p50 = {rate: grpc_over_http(rate, "p50_ms") for rate in rates}
        cpu = {rate: grpc_over_http(rate, "server_cpu_us") for rate in rates}
        headline = [[rate, _median(series("HTTP/1.1 JSON", rate, "p50_ms")), _median(series("gRPC", rate, "p50_ms")),
                     p50[rate].median, _interval(p50[rate]), cpu[rate].median, _interval(cpu[rate]),
                     f"{sum(series('gRPC', rate, 'meets_slo'))}/{rounds}"] for rate in rates]
        rows = [[s["round"], s["arm"], s["rate"], s["achieved"], s["p50_ms"], s["p99_ms"], s["server_cpu_us"],
                 s["errors"], s["meets_slo"]] for s in steps]
        top = rates[-1]
        return BenchResult(
            "B10", self.title, METHOD,
            tables=[Table(f"gRPC / HTTP, median over {rounds} rounds (90% bootstrap interval)",
                          ["req/s", "HTTP p50 ms", "gRPC p50 ms", "p50 gRPC / HTTP", "interval",
                           "server CPU gRPC / HTTP", "interval", f"gRPC rounds with p99 < {SLO_MS:g} ms"], headline),
                    Table(f"Every step ({seconds:g} s measured after 1 s of warm-up)",
                          ["round", "transport", "offered req/s", "sent req/s", "p50 ms", "p99 ms",
                           "server CPU us/request", "errors", f"p99 < {SLO_MS:g} ms"], rows)],
            goals=[at_most_surely(f"p50 latency at {top} req/s, gRPC / HTTP", p50[top].median, p50[top].interval,
                                  P50_RATIO_GOAL)],
            notes=NOTES,
        )


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _interval(found: PairedRatio) -> str:
    return "—" if found.interval is None else f"{found.interval[0]:.3f}–{found.interval[1]:.3f}"


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
