"""summary["chaos"]: what each fault did and how the service came back, from the records.

Per fault, on the run's own timeline (rolling windows, harness/analysis/rolling.py):

- `time_to_detect`: from the fault's start to the end of the first rolling window that
  misses a health criterion, looked for until one window past the fault's end; absent
  when the fault never showed;
- `recovery_time`: from the fault's end (a kill: the server ready again) to the first
  window from which every window stays healthy for the hold time; +inf when the run never
  shows that;
- `restart_time`: for faults that end when the server is ready again, kill to ready;
- failed requests during the fault and after it until recovery, by kind, and those never
  answered at all;
- `throughput_dip`: the lowest share of the offered load served successfully in any
  rolling window from the start of the fault to its recovery.

Run-level values, for bare-name SLOs: the mean over the faults with a Student-t interval
across them when there are several (one fault: its observed value; any +inf: +inf, so
`recovery_time < 10s` fails when a server never comes back); throughput_dip is the lowest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.analysis.rolling import Criterion, Rolling, first_at_or_after, roll, settled_at
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.slo import FAULT_SCALARS, parse_slo
from harness.analysis.stats import bounds_level, mean_ci
from harness.contracts import FaultSpan, Scalar

DEFAULT_HEALTHY = ("error_rate <= 1%",)  # when the scenario states nothing a rolling window can check
NEVER_ANSWERED = "cancelled"
HURT_WINDOWS = ("during",)


def health_criteria(inp: SectionInput) -> list[Criterion]:
    """The rolling form of `analysis.recovery.healthy`, or of the scenario's SLOs that say what
    health is (not those scoped to a fault's duration, which say what the fault does)."""
    slos = [parse_slo(expr) for expr in inp.spec.recovery.healthy] or [
        slo for slo in inp.slos if slo.window not in HURT_WINDOWS]
    criteria = [c for slo in slos if (c := Criterion.from_slo(slo)) is not None]
    return criteria or [Criterion.from_slo(parse_slo(expr)) for expr in DEFAULT_HEALTHY]


def fault_figures(fault: FaultSpan, end_s: float, rolling: Rolling, inp: SectionInput) -> dict[str, Any]:
    settings = inp.spec.recovery
    detected = first_at_or_after(rolling.t_s, rolling.breach, fault.start_s)
    if detected > end_s + rolling.window_s:
        detected = math.nan
    recovered = settled_at(rolling, end_s, settings.hold_s)
    disturbed = (fault.start_s, min(recovered, inp.timeline.measured[1]))
    return {
        "name": fault.name,
        "action": fault.action,
        "label": fault.label,
        "start_s": fault.start_s,
        "end_s": fault.end_s,
        "outcome": fault.outcome,
        "time_to_detect_ms": (detected - fault.start_s) * 1e3,
        "recovered_at_s": recovered,
        "recovery_time_ms": max(0.0, recovered - end_s) * 1e3,
        "restart_time_ms": ((end_s - fault.start_s) * 1e3 if fault.end_s is not None else math.inf)
        if fault.ends_when_ready else math.nan,
        "failed_during": _failures(inp, (fault.start_s, end_s)),
        "failed_after": _failures(inp, (end_s, disturbed[1])),
        "never_answered": _failures(inp, disturbed).get(NEVER_ANSWERED, 0),
        "throughput_dip": _lowest_served_share(rolling, disturbed),
    }


def _failures(inp: SectionInput, span: tuple[float, float]) -> dict[str, int]:
    samples = inp.samples
    inside = samples.measured & ~samples.ok & (samples.times_s >= span[0]) & (samples.times_s < span[1])
    kinds = inp.records["error_kind"].to_numpy(dtype=object)[inside]
    names, counts = np.unique(kinds.astype(str), return_counts=True) if kinds.size else ((), ())
    return {"total": int(inside.sum()), **{str(k): int(c) for k, c in zip(names, counts, strict=True)}}


def _lowest_served_share(rolling: Rolling, span: tuple[float, float]) -> float:
    chosen = (rolling.t_s > span[0]) & (rolling.t_s <= span[1] + rolling.window_s) & (rolling.requests > 0)
    if not chosen.any():
        return math.nan
    return float((rolling.ok[chosen] / rolling.requests[chosen]).min())


def across_faults(values: list[float], unit: str, confidence: float) -> Scalar | None:
    """One run-level value from a figure of each fault (see the module's docstring)."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return None
    if any(math.isinf(v) for v in values) or len(values) == 1:
        return Scalar(max(values), unit, None, len(values), method="observed")
    estimate = mean_ci(np.array(values), bounds_level(confidence))
    return Scalar(estimate.value, unit, (estimate.lo, estimate.hi), len(values),
                  method=f"mean over {len(values)} faults, student-t")


def fault_scalar(metric: str, fault: str) -> str:
    """The key of one fault's own figure among the run's scalars (judged by `METRIC in after(FAULT)`)."""
    return f"{metric}@{fault}"


def _scalars(figures: list[dict[str, Any]], confidence: float) -> dict[str, Scalar]:
    scalars = {name: across_faults([f[f"{name}_ms"] for f in figures], "ms", confidence) for name in FAULT_SCALARS}
    dips = [f["throughput_dip"] for f in figures if not math.isnan(f["throughput_dip"])]
    scalars["throughput_dip"] = Scalar(min(dips), "ratio", None, len(dips), method="observed") if dips else None
    return {name: scalar for name, scalar in scalars.items() if scalar is not None}


def _each_faults(figures: list[dict[str, Any]]) -> dict[str, Scalar]:
    """Every fault's own figures, for SLOs that name one fault (they stay out of the section: its
    `faults` list shows them)."""
    return {fault_scalar(name, f["name"]): Scalar(f[f"{name}_ms"], "ms", None, 1, method="observed")
            for f in figures for name in FAULT_SCALARS if not math.isnan(f[f"{name}_ms"])}


@summary_section("chaos", applies=lambda inp: bool(inp.spec.faults))
def chaos_section(inp: SectionInput) -> SectionOutput:
    settings = inp.spec.recovery
    criteria = health_criteria(inp)
    rolling = roll(inp.samples, criteria, inp.timeline.measured, settings.window_s)
    figures = [fault_figures(f, inp.timeline.end_of(f), rolling, inp) for f in inp.spec.faults]
    scalars = _scalars(figures, inp.spec.confidence)
    section = {
        "window_s": settings.window_s, "hold_s": settings.hold_s, "allowance_s": settings.allowance_s,
        "healthy": [c.expr for c in criteria],
        "faults": figures,
        **{name + ("_ms" if scalar.unit == "ms" else ""): scalar.value for name, scalar in scalars.items()},
    }
    series = {"t_s": rolling.t_s, "p99_ms": rolling.p99_ms, "failed_share": rolling.failed_share,
              "healthy": rolling.healthy, "breach": rolling.breach, "faults": figures}
    return SectionOutput(section, series, {**scalars, **_each_faults(figures)})
