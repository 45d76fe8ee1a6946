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
from benchmarks.slogate_cli import fixed_rate_scenario, ms, run_slogate
from benchmarks.suite import BenchResult, Context, Table, register
from harness.experiments.capacity.search import best, classify, confirming, search
from reference_server.demo.repository import ensure_demo_repo

PLAIN = "uvicorn"
# Serve's per-request path, tuned: the app on the replica's own event loop and the router on the
# proxy's (two thread hops less), proxy to replica over gRPC, request logs buffered. These are
# the parts of Ray's RAY_SERVE_THROUGHPUT_OPTIMIZED preset that keep Serve's proxy; the rest of
# that preset (direct ingress: each replica its own listener, no proxy) answers 404 for the
# engine's routes, whose one address is the proxy's.
TUNED = {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0", "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
         "RAY_SERVE_PROXY_USE_GRPC": "1", "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1000"}


@dataclass(frozen=True)
class RayArm:
    replicas: int
    env: dict[str, str]

    @property
    def label(self) -> str:
        return f"ray, {self.replicas} replica" + ("s" if self.replicas > 1 else "") + (", tuned" if self.env else "")


RAY_ARMS = (RayArm(1, {}), RayArm(2, {}), RayArm(1, TUNED))
RAY_READY_TIMEOUT_S = 300.0  # Ray, Serve's controller and proxy, then each replica's torch import: ~40 s here



@dataclass
class Step:
    arm: str
    beside: str  # the Ray arm that was up: the plain server's steps are paired with its
    round: int
    kind: str  # "latency" (the low fixed rate) | "search"
    rate: float
    achieved: float
    p50_ms: float | None  # None: the run could not place the quantile (too many requests censored)
    p99_ms: float | None
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
    title = ("The reference server on Ray Serve (1 and 2 replicas, and tuned) against plain uvicorn: "
             "rate at the SLO, proxy latency")
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
            for ray_arm in RAY_ARMS:
                command = reference_server(repo, "fraud", name=_slug(ray_arm.label), env=ray_arm.env,
                                           ready_timeout_s=RAY_READY_TIMEOUT_S, stop_grace_s=60.0)
                command.argv += ["--engine", "ray", "--replicas", str(ray_arm.replicas)]
                with serving(command, work) as ray:
                    ctx.log(f"  {ray_arm.label} ready in {ray.ready_s:.1f} s")
                    for index in range(1, plan.rounds + 1):
                        arms = [(PLAIN, plain), (ray_arm.label, ray)]
                        for arm, server in arms if index % 2 else arms[::-1]:
                            steps += self._round(ctx, work, plan, (arm, ray_arm.label), server, index)
        return self._result(steps, plan)

    def _round(self, ctx: Context, work: Path, plan: Plan, arms: tuple[str, str], server: Started,
               index: int) -> list[Step]:
        def measure(rate: float, kind: str = "search") -> Step:
            step = _step(work, plan, arms, server.base_url, rate, index, kind)
            ctx.log(f"  round {index} {arms[0]:>16} {rate:>6.0f}/s -> p50 {ms(step.p50_ms)} p99 {ms(step.p99_ms)} ms, "
                    f"{step.outcome}: {step.why}")
            return step

        low = measure(plan.low_rate, "latency")
        retried: list[Step] = []
        ladder = search(confirming(measure, retried), plan.start, plan.bisections, plan.ceiling)
        return [low, *retried, *ladder]

    def _result(self, steps: list[Step], plan: Plan) -> BenchResult:
        headline = []
        for ray_arm in (arm.label for arm in RAY_ARMS):
            ray, plain = _capacities(steps, ray_arm, ray_arm), _capacities(steps, PLAIN, ray_arm)
            both = [(r, p) for r, p in zip(ray, plain, strict=True) if r is not None and p is not None]
            headline.append([ray_arm, _capacity(steps, ray_arm, ray), _capacity(steps, PLAIN, plain),
                             paired_ratio([r for r, _ in both], [p for _, p in both]).median,
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


def _capacities(steps: list[Step], arm: str, beside: str) -> list[float | None]:
    """Per round, the highest rate the arm's search passed while `beside` was the Ray arm up
    (None: it passed none)."""
    rounds = sorted({s.round for s in steps})
    found = [best([s for s in steps if (s.arm, s.beside, s.round, s.kind) == (arm, beside, index, "search")])
             for index in rounds]
    return [None if step is None else step.rate for step in found]


def _capacity(steps: list[Step], arm: str, per_round: list[float | None]) -> float | str | None:
    """The median capacity over the rounds, or, where no round passed, below what was tried."""
    known = [rate for rate in per_round if rate is not None]
    if known:
        return _median(known)
    tried = [s.rate for s in steps if s.arm == arm and s.kind == "search"]
    return f"< {min(tried):g} (no step passed)" if tried else None


def _added(steps: list[Step], ray_arm: str, key: str) -> list[float]:
    """Per round, the Ray arm's latency at the low rate minus the plain server's beside it."""
    pairs: dict[int, dict[str, float]] = {}
    for s in steps:
        if s.kind == "latency" and s.beside == ray_arm and getattr(s, key) is not None:
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
    ("The tuned arm sets RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0, RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0, "
     "RAY_SERVE_PROXY_USE_GRPC=1 and RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE=1000: the parts of Ray's "
     "RAY_SERVE_THROUGHPUT_OPTIMIZED preset that keep the proxy. The preset's direct ingress (a listener "
     "per replica, no proxy) answers 404 for the engine's routes. Knobs not turned: `max_ongoing_requests` "
     "(the engine sets 256; Serve's default of 5 starves the batcher), `proxy_location` (HeadOnly here; "
     "EveryNode spreads proxies on a cluster), RAY_SERVE_ENABLE_HA_PROXY=1 (HAProxy in front; it forces "
     "direct ingress), and fewer torch threads per replica (--torch-threads)."),
]
