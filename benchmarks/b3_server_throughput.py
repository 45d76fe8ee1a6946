"""B3: server throughput at the SLO. The highest rate with p99 < 25 ms and errors < 0.1%,
found with slogate itself, for the reference server and its peers serving the same weights.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.fraud_export import prepare
from benchmarks.peers.venvs import TORCH, ensure_venv, installed_version
from benchmarks.processes import ROOT, ServerCommand, free_port, reference_server, serving
from benchmarks.slogate_cli import run_slogate
from benchmarks.suite import BenchResult, Context, Table, at_least, ratio, register
from harness.experiments.capacity.search import best, classify, confirming, search

SLO_MS = 25.0
MAX_ERROR_RATE = 0.001
ERROR_SLO = f"error_rate < {MAX_ERROR_RATE * 100:g}%"  # judged by its estimate: a short step cannot certify it
PEERS = ROOT / "benchmarks" / "peers"
MLSERVER = ("mlserver", [[TORCH], ["mlserver==1.7.1", "uvloop<0.22"]])
KSERVE = ("kserve", [[TORCH], ["kserve==0.21.0"]])
LITSERVE = ("litserve", [[TORCH], ["litserve==0.2.19", "uvloop"]])

SCENARIO = """\
name: {name}
seed: 3
target: {{url: http://placeholder, model: fraud, {version}protocol: oip-v2, request_timeout: 2s}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {{process: poisson, rate: {rate}}}}}
  warmup: {warmup}s
  payload: {{generator: file, path: {rows}}}
slos:
  - p99(latency) < {slo_ms}ms
  - {error_slo}
analysis:
  max_lag_p99: 5ms   # the generator shares 2 cores with the server; lag still counts in latency
"""


@dataclass
class Prepared:
    repo: Path
    torchscript: Path
    rows: Path
    torchscript_repo: Path


@dataclass
class Contender:
    label: str
    start: Callable[[Prepared], ServerCommand]
    version: str | None = None  # the reference server's demo fraud model has two; the peers have one
    venv: tuple[str, list[list[str]]] | None = None


@dataclass
class Step:
    rate: float
    achieved: float
    p99_ms: float
    p99_upper_ms: float
    error_rate: float
    lag_p99_ms: float
    outcome: str  # "pass" | "fail" | "generator-bound"
    why: str


def step_at(contender: Contender, url: str, rate: float, seconds: float, prepared: Prepared, work: Path) -> Step:
    """One slogate run of `seconds` measured after a warm-up of a quarter of that, at most 1 s."""
    name = f"{_slug(contender.label)}-{rate:.0f}"
    version = f"version: '{contender.version}', " if contender.version else ""
    scenario = SCENARIO.format(name=name, version=version, seconds=seconds + _warmup(seconds), warmup=_warmup(seconds),
                               rate=rate, rows=prepared.rows,
                               slo_ms=SLO_MS, error_slo=ERROR_SLO)
    summary = run_slogate(name, scenario, url, work).summary
    outcome, why = classify(summary, estimate_only=(ERROR_SLO,))
    p99 = next(s for s in summary["slos"] if s["expr"].startswith("p99"))
    return Step(rate, summary["load"]["achieved_rate"], p99["estimate"], p99["ci"][1],
                summary["error_rate"]["estimate"], summary["load"]["schedule_lag_ms"]["p99"], outcome, why)


def _warmup(seconds: float) -> float:
    return min(1.0, seconds / 4)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")


def _fastapi(prepared: Prepared) -> ServerCommand:
    port = free_port()
    return ServerCommand("fastapi", [sys.executable, str(PEERS / "fastapi_fraud.py"), "--model",
                                     str(prepared.torchscript), "--port", str(port)], port, "/v2/health/ready")


def _mlserver(batch_size: int, batch_time_ms: float) -> Callable[[Prepared], ServerCommand]:
    def command(prepared: Prepared) -> ServerCommand:
        port = free_port()
        python = ensure_venv(*MLSERVER)
        return ServerCommand(f"mlserver-batch{batch_size}", [
            str(python), str(PEERS / "mlserver_fraud.py"), "--model", str(prepared.torchscript), "--port", str(port),
            "--max-batch-size", str(batch_size), "--max-batch-time-ms", str(batch_time_ms)], port, "/v2/health/ready")

    return command


def _litserve(prepared: Prepared) -> ServerCommand:
    port = free_port()
    return ServerCommand("litserve", [str(ensure_venv(*LITSERVE)), str(PEERS / "litserve_fraud.py"), "--model",
                                      str(prepared.torchscript), "--port", str(port)], port, "/v2/health/ready")


def _kserve(prepared: Prepared) -> ServerCommand:
    port = free_port()
    return ServerCommand("kserve", [str(ensure_venv(*KSERVE)), str(PEERS / "kserve_fraud.py"), "--model",
                                    str(prepared.torchscript), "--port", str(port)], port, "/v2/health/ready")


OURS = Contender("slogate reference server", lambda p: reference_server(p.repo, "fraud"), version="1")
OURS_TORCHSCRIPT = Contender("slogate reference server, TorchScript", lambda p: reference_server(p.torchscript_repo, "fraud"),
                             version="1")
CONTENDERS = [
    OURS,
    OURS_TORCHSCRIPT,
    Contender("MLServer, adaptive batching off", _mlserver(0, 0), venv=MLSERVER),
    Contender("MLServer, adaptive batching on (32, 1 ms)", _mlserver(32, 1.0), venv=MLSERVER),
    Contender("KServe ModelServer", _kserve, venv=KSERVE),
    Contender("LitServe", _litserve, venv=LITSERVE),
    Contender("plain FastAPI", _fastapi),
]


@register("B3")
class ServerThroughput:
    title = "Server throughput at the SLO: reference server vs MLServer, KServe and FastAPI"
    micro = ("test_server.py::test_oip_body_to_rows", "test_server.py::test_batcher_submit_to_result_per_thousand",
             "test_server.py::test_render_metrics_of_fifty_models")

    def run(self, ctx: Context) -> BenchResult:
        seconds = ctx.mode.pick(8.0, 3.0, tiny=2.0)
        bisections = ctx.mode.pick(3, 2, tiny=0)
        start = ctx.mode.pick(1000.0, 1000.0, tiny=200.0)
        ceiling = ctx.mode.pick(1e6, 1e6, tiny=400.0)
        contenders = ctx.mode.pick(CONTENDERS, CONTENDERS, tiny=[OURS, CONTENDERS[-1]])
        work = ctx.work / "b3"
        work.mkdir(parents=True, exist_ok=True)
        prepared = Prepared(*prepare(ctx.cache, work))
        limits = (start, ceiling, bisections)
        searched = {c.label: self._ladder(c, prepared, seconds, limits, work, ctx) for c in contenders}
        ladders = {label: steps for label, (steps, _) in searched.items()}
        retried = {label: first_runs for label, (_, first_runs) in searched.items()}
        return self._result(ladders, retried, contenders, seconds, ctx)

    def _ladder(self, contender, prepared, seconds, limits, work, ctx) -> tuple[list[Step], list[Step]]:
        retried: list[Step] = []
        with serving(contender.start(prepared), work) as server:
            def measure(rate: float) -> Step:
                step = step_at(contender, server.base_url, rate, seconds, prepared, work)
                ctx.log(f"  {contender.label}: {rate:.0f}/s -> {step.outcome}: {step.why}")
                return step

            start, ceiling, bisections = limits
            steps = search(confirming(measure, retried), start, bisections, ceiling)
            return steps, [replace(step, outcome="fail, so run again") for step in retried]

    def _result(self, ladders, retried, contenders, seconds, ctx) -> BenchResult:
        top = {label: best(steps) for label, steps in ladders.items()}
        ours = top[OURS.label]
        summary_rows = [[label, step.rate if step else None, step.p99_ms if step else None,
                         _bound(ladders[label]), ratio(ours.rate if ours else None, step.rate if step else None)]
                        for label, step in top.items()]
        step_rows = [[label, s.rate, s.achieved, s.p99_ms, s.p99_upper_ms, _percent(s.error_rate), s.lag_p99_ms,
                      s.outcome] for label, steps in ladders.items() for s in steps + retried[label]]
        mlservers = [top[c.label].rate for c in contenders if c.venv == MLSERVER and top[c.label]]

        def rate_of(label: str) -> float | None:
            return top[label].rate if top.get(label) else None

        torchscript = rate_of(OURS_TORCHSCRIPT.label)
        return BenchResult(
            self.key, self.title, METHOD,
            tables=[Table(f"Highest Poisson rate with p99 < {SLO_MS:g} ms and errors < {MAX_ERROR_RATE:.1%}",
                          ["server", "req/s", "p99 ms there", "search ended by", "reference / this"], summary_rows),
                    Table(f"Every step ({seconds:g} s measured, after {_warmup(seconds):g} s of warm-up)",
                          ["server", "offered req/s", "sent req/s", "p99 ms", "p99 upper bound ms", "errors %",
                           "schedule lag p99 ms", "outcome"], step_rows)],
            goals=[at_least("rate at SLO, reference / best MLServer", ratio(ours.rate if ours else None,
                                                                         max(mlservers, default=None)), 2.0),
                   at_least("rate at SLO, reference / plain FastAPI",
                            ratio(ours.rate if ours else None, rate_of("plain FastAPI")), 1.5),
                   at_least("rate at SLO, reference on the TorchScript export / plain FastAPI (the same artifact)",
                            ratio(torchscript, rate_of("plain FastAPI")), 1.5),
                   at_least("rate at SLO, reference on the TorchScript export / LitServe (the same artifact)",
                            ratio(torchscript, rate_of("LitServe")), 1.5)],
            plots=[plot_b3(ladders, ctx.figures_dir / "b3_server_throughput.png")],
            versions=_peer_versions(contenders),
            notes=NOTES,
        )


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100


def _bound(steps: list[Step]) -> str:
    if steps[-1].outcome == "generator-bound":
        return f"slogate's own limit at {steps[-1].rate:.0f}/s: a lower bound"
    if all(s.outcome == "pass" for s in steps):
        return "this mode's highest rate: a lower bound"
    return "the SLO"


def _peer_versions(contenders: list[Contender]) -> dict[str, str]:
    venvs = {c.venv[0]: c.venv for c in contenders if c.venv}
    return {name: installed_version(ensure_venv(*spec), name) for name, spec in venvs.items()}


def plot_b3(ladders: dict[str, list[Step]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, steps in ladders.items():
        ordered = sorted(steps, key=lambda s: s.rate)
        ax.plot([s.rate for s in ordered], [s.p99_ms for s in ordered], marker="o", label=label)
    ax.axhline(SLO_MS, color="red", linestyle="--", label=f"SLO {SLO_MS:g} ms")
    ax.set(xscale="log", yscale="log", xlabel="offered rate (req/s, Poisson)", ylabel="p99 latency (ms)",
           title="p99 latency against offered rate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


METHOD = """
Every server serves the demo fraud model, version 1 (a 14→32→1 MLP): the reference server
from its repository (eager torch), and again from the same TorchScript export the peers
load (its `torchscript` backend), so one row compares the same artifact end to end. Each
runs on loopback with one process and torch at one thread, and every request carries one
row from the same JSONL file. slogate itself searches each server's capacity: Poisson
arrivals at a rate, a short warm-up, then `p99(latency) < 25ms` and `error_rate < 0.1%`
judged with confidence bounds. The rate doubles until the SLO breaks, then bisects
geometrically between the last pass and the first miss. A step passes only when the p99
upper bound is under 25 ms and errors stay under 0.1%; a step that misses is run once more,
and counts as a miss only if it misses again, because this box has whole-machine slowdowns
of a few seconds (one sank a reference-server step at 4,000 req/s whose other seconds had a
p99 under 5 ms) that can strike any server's step. A step where the load itself was
invalid (slogate fell behind its schedule, sharing 2 cores with the server) ends the search:
the figure is then a lower bound, and so is its ratio.
"""

NOTES = [
    ("MLServer runs its model in the main process (`parallel_workers: 0`), its fastest setting here; "
     "its gRPC server cannot be turned off, so it listens on another loopback port."),
    "KServe's Python ModelServer has no batching; its REST server is forced onto 127.0.0.1 and gRPC is off.",
    ("The reference server batches opportunistically (max 32 rows, no added delay) and runs cheap batches "
     "on its event loop."),
]
