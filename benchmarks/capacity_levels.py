"""B14's reading of the peers' sweeps: each swept level's medians, and the SLO judged on them.

Neither GuideLLM's sweep nor vLLM's judges an SLO, so B14 takes, for each, the highest swept
rate whose point figures meet the scenario's SLOs, as a user of either tool would read its
table. Parsing only: the figures are each tool's own, from its own JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.analysis.slo import OPS, parse_slo

# The SLOs a sweep's output can judge: (metric, stat) -> the Level field holding it.
JUDGEABLE = {("ttft", "p50"): "ttft_p50_ms", ("tpot", "p50"): "tpot_p50_ms", ("availability", None): "availability"}


@dataclass(frozen=True)
class Level:
    """One swept load level as its tool reports it."""

    label: str  # the tool's own name for the level: "poisson@3.2", "request_rate=5"
    rate: float  # req/s: the level's set rate, or its measured throughput where it sets none
    ttft_p50_ms: float
    tpot_p50_ms: float
    availability: float  # successful / (successful + failed)
    completed: int


@dataclass(frozen=True)
class Bound:
    field: str  # a Level field
    op: str
    threshold: float
    expr: str


def bounds_of(slos: Iterable[str]) -> list[Bound]:
    """The scenario's SLOs as bounds on a Level; one a sweep cannot judge is an error naming it."""
    bounds = []
    for slo in map(parse_slo, slos):
        field = JUDGEABLE.get((slo.metric, slo.stat))
        if field is None or slo.window or slo.cohort or (slo.unit not in ("ms", "ratio")):
            raise ValueError(f"B14 judges only p50(ttft), p50(tpot) and availability, over the whole run: {slo.expr}")
        bounds.append(Bound(field, slo.op, slo.threshold, slo.expr))
    return bounds


def misses(level: Level, bounds: list[Bound]) -> list[str]:
    """The SLOs the level misses (empty: it meets them all)."""
    return [b.expr for b in bounds if not OPS[b.op](getattr(level, b.field), b.threshold)]


def highest_passing(levels: Iterable[Level], bounds: list[Bound]) -> Level | None:
    """The highest-rate level that meets every SLO, whatever lies above it: the tools read
    their tables that way (a sweep reports levels, not a bracket)."""
    passing = [level for level in levels if not misses(level, bounds)]
    return max(passing, key=lambda level: level.rate, default=None)


def guidellm_levels(report: dict[str, Any]) -> list[Level]:
    """Every benchmark of a GuideLLM JSON report, in the order run. Its ITL is per request,
    (last token - first token) / (n - 1): slogate's TPOT in all but the end point."""
    return [_guidellm_level(benchmark) for benchmark in report["benchmarks"]]


def _guidellm_level(benchmark: dict[str, Any]) -> Level:
    metrics = benchmark["metrics"]
    totals = metrics["request_totals"]
    strategy = benchmark["config"]["strategy"]
    measured = metrics["requests_per_second"]["successful"]["mean"]
    # synchronous and throughput levels set no rate: GuideLLM places them by their throughput
    rate = strategy.get("rate") or measured
    return Level(label=f"{strategy['type_']}@{rate:.3g}", rate=float(rate),
                 ttft_p50_ms=metrics["time_to_first_token_ms"]["successful"]["percentiles"]["p50"],
                 tpot_p50_ms=metrics["inter_token_latency_ms"]["successful"]["percentiles"]["p50"],
                 availability=_share(totals["successful"], totals["errored"]), completed=totals["successful"])


def vllm_levels(runs: list[dict[str, Any]]) -> list[Level]:
    """Every level of vLLM's serve_workload sweep (each a `vllm bench serve` result), in the
    order run. Its ends set no usable rate (1 req/s one at a time; every prompt at once):
    serve_workload itself places them by their request throughput, as does this."""
    return [_vllm_level(run) for run in runs]


def _vllm_level(run: dict[str, Any]) -> Level:
    capped = run.get("max_concurrency") is not None
    rate = run["request_throughput"] if capped else float(run["request_rate"])
    label = f"max_concurrency={run['max_concurrency']}" if capped else f"request_rate={float(run['request_rate']):.3g}"
    return Level(label=label, rate=float(rate), ttft_p50_ms=run["median_ttft_ms"], tpot_p50_ms=run["median_tpot_ms"],
                 availability=_share(run["completed"], run["failed"]), completed=run["completed"])


def _share(good: int, bad: int) -> float:
    return good / (good + bad) if good + bad else float("nan")

