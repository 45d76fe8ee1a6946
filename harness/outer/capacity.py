"""`slogate capacity SCENARIO`: the highest rate at which every SLO of the scenario passes,
its bracket, the latency-throughput curve and knee, replicas for a peak and cost at the SLO.

An outer loop over sessions: one target, started once, serves every step; each step is an
ordinary run (its own directory under `steps/`), read by `RateSearch` and
harness/analysis/capacity.py. A Ctrl-C ends the step in flight (its partial run is kept)
and the search, and the report still describes what was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.analysis.capacity import capacity_summary
from harness.analysis.slo import parse_slo
from harness.experiments.capacity.search import RateSearch, bracket
from harness.experiments.capacity.settings import CapacitySettings
from harness.outer.capacity_steps import (CapacityStep, certifiable_floor, knob_of, read_step, step_duration,
                                                step_scenario)
from harness.report.capacity_report import write_capacity_report
from harness.scenario.model import Scenario
from harness.session.runner import execute, new_run_dir
from harness.targets.base import Target, build_target

STEP_OVERHEAD_S = 2.0  # between steps: analysis, report, connection warm-up
CAPACITY_EXIT = {"bracketed": 0, "lower bound": 3, "none passed": 1}


@dataclass(frozen=True)
class Pricing:
    instances: tuple[dict[str, Any], ...]  # cost facts (harness/experiments/cost/experiment.py)
    peak_rate: float | None
    headroom: float


@dataclass
class CapacityResult:
    out_dir: Path
    summary: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return CAPACITY_EXIT[self.summary["result"]]


async def run_capacity(scenario: Scenario, settings: CapacitySettings, pricing: Pricing, out_root: Path,
                       target_url: str | None = None, console: Console | None = None) -> CapacityResult:
    console = console or Console(stderr=True)
    out_dir = new_run_dir(out_root, scenario.name)
    knob = knob_of(scenario)
    floor = certifiable_floor(scenario, settings, knob)
    start = settings.start or getattr(scenario.workload.phases[0].arrival, knob)
    start = start if start >= floor else math.ceil(floor)  # whole req/s: the steps read better
    plan = RateSearch(start, settings.bisections, settings.ceiling, floor, settings.max_steps)
    retried: list[CapacityStep] = []
    target = build_target(scenario.target, out_dir / "server.log", target_url, scenario.services)
    await target.start()
    try:
        await _search(plan, retried, scenario, settings, knob, target, out_dir, console)
    finally:
        await target.stop()
    found = bracket(plan.steps)
    facts = scenario_facts(scenario, settings, knob) | {"floor": floor, "start": start}
    summary = capacity_summary(facts, [s.to_dict() for s in plan.steps],
                               [s.to_dict() for s in retried], found, pricing.instances, pricing.peak_rate,
                               pricing.headroom)
    write_capacity_report(out_dir, summary)
    return CapacityResult(out_dir, summary)


async def _search(plan: RateSearch, retried: list[CapacityStep], scenario: Scenario, settings: CapacitySettings,
                  knob: str, target: Target, out_dir: Path, console: Console) -> None:
    metrics = curve_metrics(scenario)
    index = 0
    while (value := plan.next_rate()) is not None:
        _announce(console, plan, settings, scenario, knob, value)
        for attempt in range(2 if settings.confirm_misses else 1):
            index += 1
            step = step_scenario(scenario, settings, knob, value, index)
            result = await execute(step, out_dir / "steps", console=console, shared_target=target)
            measured = read_step(index, value, result.run_dir, result.summary, step, metrics)
            console.print(f"  step {index}: {knob} {value:g} → {measured.outcome}: {measured.why[:160]}")
            if result.summary.get("interrupted"):
                plan.record(measured)
                return
            if measured.outcome != "fail" or attempt == 1 or not settings.confirm_misses:
                break
            measured.retried = True
            retried.append(measured)
        plan.record(measured)


def _announce(console: Console, plan: RateSearch, settings: CapacitySettings, scenario: Scenario, knob: str,
              value: float) -> None:
    found = bracket(plan.steps) if plan.steps else None
    measured = step_duration(scenario, settings, knob, value)
    seconds = measured + settings.warmup + STEP_OVERHEAD_S
    left = max(1, settings.max_steps - len(plan.steps))
    if found is not None and found.highest_pass is not None and found.lowest_miss is not None:
        left = min(left, max(1, settings.bisections - plan.bisected))
        where = f"capacity in [{found.highest_pass:g}, {found.lowest_miss:g})"
    else:
        where = "bracketing"
    console.print(f"capacity step {len(plan.steps) + 1} (≤{settings.max_steps}): {knob} {value:g} for "
                  f"{measured:.0f} s · {where} · about {left} step(s), "
                  f"~{left * seconds / 60:.1f} min left")


def curve_metrics(scenario: Scenario) -> tuple[str, ...]:
    """The per-request metrics the scenario's percentile SLOs judge (latency when none does)."""
    judged = [slo.metric for slo in map(parse_slo, scenario.slos) if slo.q is not None]
    return tuple(dict.fromkeys(judged or ["latency"]))


def scenario_facts(scenario: Scenario, settings: CapacitySettings, knob: str) -> dict[str, Any]:
    return {"scenario": scenario.name, "description": scenario.description, "knob": knob,
            "unit": "req/s" if knob == "rate" else "users", "slos": list(scenario.slos),
            "confidence": scenario.analysis.confidence, "settings": settings.model_dump(),
            "curve_metric": curve_metrics(scenario)[0],
            "thresholds": {slo.expr: {"metric": slo.metric, "stat": slo.stat, "q": slo.q, "threshold": slo.threshold}
                           for slo in map(parse_slo, scenario.slos)}}
