"""One step of a capacity search: the scenario at one rate (or concurrency), run and read.

The step is the scenario's first phase with its `rate` (or `concurrency`) replaced and its
length set to certify the scenario's percentiles; the load, the verdicts and the records are
an ordinary run's, kept in the step's own run directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.analysis.capacity import step_figures
from harness.analysis.metrics import get_metric
from harness.analysis.slo import parse_slo
from harness.analysis.stats import min_samples_for_percentile
from harness.experiments.capacity.search import classify
from harness.experiments.capacity.settings import CapacitySettings
from harness.records import read_records
from harness.scenario.model import Scenario

# A percentile step holds 5x LoadGen's zero-violation minimum: with exactly the minimum, one
# request past the threshold already leaves the percentile uncertified; with 5x, a service
# whose tail share is about half the allowed one still certifies. A ratio SLO (an error
# rate) gets its minimum: a healthy service has no failures at all.
PERCENTILE_FACTOR = 5
# Poisson arrivals put round(rate x length) requests in the whole phase, but how many fall
# after the warm-up varies by about their square root: 10% more keeps a step from missing
# the minimum by a handful (a step of exactly 2,995 intended requests held 2,990).
COUNT_MARGIN = 1.10
KNOBS = ("rate", "concurrency")
RATIO_METRICS = ("availability", "error_rate")


@dataclass
class CapacityStep:
    index: int
    rate: float  # the knob's value: offered req/s, or closed-loop users
    outcome: str  # "pass" | "fail" | "generator-bound"
    why: str
    duration_s: float  # measured, after warm-up
    run_dir: str
    achieved: dict[str, Any]  # successful req/s: estimate and bounds
    goodput: dict[str, Any]
    lag_p99_ms: float
    verdicts: list[dict[str, Any]]
    figures: dict[str, Any]
    tokens_per_s: dict[str, float] = field(default_factory=dict)  # input/output, LLM runs only
    retried: bool = False  # a first run whose miss was measured again

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def knob_of(scenario: Scenario) -> str | None:
    """Which field of the first phase's arrival the search turns: `rate` or `concurrency`."""
    fields = type(scenario.workload.phases[0].arrival).model_fields
    return next((knob for knob in KNOBS if knob in fields), None)


def certifying_requests(scenario: Scenario) -> int:
    """Requests one step needs for its SLOs to be certifiable at the scenario's confidence."""
    confidence = scenario.analysis.confidence
    needed = [0]
    for expr in scenario.slos:
        slo = parse_slo(expr)
        if slo.q is not None and get_metric(slo.metric) is not None:
            tail = slo.q if slo.op in ("<", "<=") else 1.0 - slo.q
            needed.append(PERCENTILE_FACTOR * min_samples_for_percentile(tail, confidence))
        elif slo.stat is None and slo.metric in RATIO_METRICS:
            allowed = 1.0 - slo.threshold if slo.metric == "availability" else slo.threshold
            if 0.0 < allowed < 1.0:
                needed.append(min_samples_for_percentile(1.0 - allowed, confidence))
    return max(needed)


def certifiable_floor(scenario: Scenario, settings: CapacitySettings, knob: str) -> float:
    """The lowest rate whose longest step still holds enough requests to certify: below it a
    step can only be inconclusive, and halving further would only make that worse."""
    if knob != "rate":
        return settings.floor
    return max(settings.floor, COUNT_MARGIN * certifying_requests(scenario) / settings.max_step_duration)


def step_duration(scenario: Scenario, settings: CapacitySettings, knob: str, value: float) -> float:
    """Measured seconds: long enough to certify, within the settings' bounds. A closed loop's
    rate is not known before it runs; its steps take the shortest length."""
    if knob != "rate":
        return settings.step_duration
    wanted = COUNT_MARGIN * certifying_requests(scenario) / value
    return min(max(settings.step_duration, wanted), settings.max_step_duration)


def step_scenario(scenario: Scenario, settings: CapacitySettings, knob: str, value: float, index: int) -> Scenario:
    duration = step_duration(scenario, settings, knob, value)
    first = scenario.workload.phases[0]
    arrival = first.arrival.model_copy(update={knob: int(value) if knob == "concurrency" else float(value)})
    phase = first.model_copy(update={"name": f"{knob} {value:g}", "duration": settings.warmup + duration,
                                     "arrival": arrival})
    workload = scenario.workload.model_copy(update={"phases": [phase], "warmup": settings.warmup})
    return scenario.model_copy(update={"name": f"{index:02d}-{value:.0f}", "workload": workload})


def read_step(index: int, value: float, run_dir: Path, summary: dict[str, Any], scenario: Scenario,
              metrics: tuple[str, ...]) -> CapacityStep:
    """The step's outcome and its point on the curve; a step that met its SLOs while its
    latency climbed without bound is over-saturated, and counts as a miss."""
    outcome, why = classify(summary)
    window = (scenario.workload.warmup, scenario.workload.duration_s)
    figures = step_figures(read_records(run_dir / "requests.parquet"), window, scenario.analysis.confidence, metrics)
    if outcome == "pass" and figures["saturation"]["saturated"]:
        outcome, why = "fail", "over-saturated: " + figures["saturation"]["reason"]
    return CapacityStep(
        index=index, rate=value, outcome=outcome, why=why, duration_s=window[1] - window[0], run_dir=str(run_dir),
        achieved=_rate(summary["throughput"]), goodput=_rate(summary["goodput"]),
        lag_p99_ms=summary["load"].get("schedule_lag_ms", {}).get("p99", float("nan")),
        verdicts=[{key: slo[key] for key in ("expr", "window", "verdict", "estimate", "ci", "unit", "reason")}
                  for slo in summary["slos"]],
        figures=figures, tokens_per_s=_token_rates(summary))


def _rate(section: dict[str, Any]) -> dict[str, Any]:
    return {"estimate": section["estimate"], "ci": section["ci"]}


def _token_rates(summary: dict[str, Any]) -> dict[str, float]:
    llm = summary.get("llm")
    if not llm:
        return {}
    duration = summary.get("measured_duration_s") or float("nan")
    return {"input": llm["prompt_tokens"]["total"] / duration, "output": llm["output_tokens_per_s"]["estimate"]}
