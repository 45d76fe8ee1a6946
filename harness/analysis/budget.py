"""summary["budget"]: each SLO's error budget, how much of it the run consumed, and its burn
rate on the run's own timeline, with the multiwindow alerts of the SRE Workbook (ch. 5).

An SLO with a target share reads as "this share of requests may be bad":

- `availability >= 99.9%`: a failed request is bad; the budget is 0.1% of requests;
- `error_rate <= 1%`: the same, with a 1% budget;
- `p99(latency) < 50ms` (a percentile of a per-request metric): a request slower than 50 ms,
  or failed, is bad; the budget is 1% of requests.

`consumed` is the bad share of the measured requests over the budget (1.0: all of it).
What a run spent is a count of its own requests, not an estimate, so the bare-name SLO
value `error_budget_consumed` (the most any budget consumed) is judged as observed; the
section also shows the interval of the bad share (Clopper-Pearson at the effective n), for
what a repeat of the run might spend. The burn rate over a
window is its bad share over the budget: 1× spends exactly the budget. An alert pair fires
while both its long and its short window burn faster than its threshold, and resets when
either drops back. Windows shorter than the time elapsed since measurement began use what
there is, as a rate over a young Prometheus series does.

The Workbook pages at 14.4× over 1 h and 5 min, and at 6× over 6 h and 30 min, and
tickets at 1× over 3 d and 6 h, for a 30-day SLO (burn_windows.py). A run is the SLO period
here, so the default pairs keep those long-to-short ratios, scaled to the measured duration
D: 14.4× over D/5 and D/60, 6× over D/2 and D/24, 1× over D and D/12 (for a 5-minute game
day: 60 s and 5 s for the page). `analysis.burn_rate` sets them explicitly, or asks for the
four pairs `slogate rules` writes for Prometheus, their windows compressed by a scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.burn_windows import run_scaled_pairs
from harness.analysis.errors import availability_scalars
from harness.analysis.metrics import get_metric
from harness.analysis.samples import RunSamples
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.slo import OPS, SLO
from harness.analysis.spec import BurnWindow
from harness.contracts import Scalar

STEPS_PER_SHORT_WINDOW = 4

BUDGET_VALUES = ("error_budget_consumed", "max_burn_rate")


@dataclass(frozen=True)
class Objective:
    """An SLO read as a budget of bad requests."""

    expr: str
    budget: float  # the share of requests that may be bad
    metric: str | None = None  # bad also when this per-request metric misses the threshold
    op: str = "<"
    threshold: float = math.nan

    @classmethod
    def from_slo(cls, slo: SLO) -> Objective | None:
        if slo.cohort is not None:
            return None  # a budget is spent by every request; a cohort's SLO counts only some
        if slo.stat is None and slo.metric == "availability" and slo.op in (">", ">=") and slo.threshold < 1:
            return cls(slo.expr, 1.0 - slo.threshold)
        if slo.stat is None and slo.metric == "error_rate" and slo.op in ("<", "<=") and slo.threshold > 0:
            return cls(slo.expr, slo.threshold)
        metric = get_metric(slo.metric) if slo.q is not None else None
        if metric is None or metric.pooled or slo.op not in ("<", "<="):
            return None
        return cls(slo.expr, 1.0 - slo.q, slo.metric, slo.op, slo.threshold)

    def bad(self, samples: RunSamples) -> np.ndarray:
        """Per record row: did this request spend budget?"""
        bad = ~samples.ok
        if self.metric is not None:
            values = samples.values(self.metric)
            with np.errstate(invalid="ignore"):
                bad = bad | (~np.isnan(values) & ~OPS[self.op](values, self.threshold))
        return bad


def burn_pairs(configured: tuple[BurnWindow, ...], duration_s: float) -> list[BurnWindow]:
    return list(configured or run_scaled_pairs(duration_s))


@dataclass(frozen=True)
class BurnTimeline:
    """Burn rates of one objective at each grid time, over any window length asked for."""

    grid: np.ndarray
    times: np.ndarray  # the measured requests' timeline positions, sorted
    bad_cumulative: np.ndarray
    start_s: float
    budget: float

    def burn(self, window_s: float) -> np.ndarray:
        lo = np.searchsorted(self.times, np.maximum(self.grid - window_s, self.start_s), side="right")
        hi = np.searchsorted(self.times, self.grid, side="right")
        count = hi - lo
        bad = self.bad_cumulative[hi] - self.bad_cumulative[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, bad / count / self.budget, np.nan)


def burn_timeline(objective: Objective, samples: RunSamples, span: tuple[float, float], step_s: float) -> BurnTimeline:
    bad = samples.measured_in_time(objective.bad(samples))
    grid = np.arange(span[0] + step_s, span[1] + step_s / 2, step_s)
    return BurnTimeline(grid, samples.measured_in_time(samples.times_s), np.concatenate([[0], np.cumsum(bad)]), span[0],
                        objective.budget)


def alert_episodes(grid: np.ndarray, firing: np.ndarray) -> list[dict[str, float | None]]:
    """[{fired_s, reset_s}] for each stretch of grid times the alert fires (reset None: still firing at the end)."""
    edges = np.diff(np.concatenate([[0], firing.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [{"fired_s": float(grid[a]), "reset_s": float(grid[b]) if b < grid.size else None}
            for a, b in zip(starts, stops, strict=True)]


def objective_budget(objective: Objective, inp: SectionInput, pairs: list[BurnWindow]) -> dict[str, Any]:
    samples, span = inp.samples, inp.timeline.measured
    step = min(pair.short_s for pair in pairs) / STEPS_PER_SHORT_WINDOW
    timeline = burn_timeline(objective, samples, span, step)
    share = consumed_scalar(objective, samples)
    alerts = []
    for pair in pairs:
        long_burn, short_burn = timeline.burn(pair.long_s), timeline.burn(pair.short_s)
        ready = timeline.grid >= span[0] + pair.short_s
        with np.errstate(invalid="ignore"):
            firing = ready & (long_burn > pair.burn) & (short_burn > pair.burn)
        episodes = alert_episodes(timeline.grid, firing)
        alerts.append({"burn": pair.burn, "long_s": pair.long_s, "short_s": pair.short_s, "severity": pair.severity,
                       "episodes": episodes,
                       "time_to_page_ms": {f.name: _time_to_page(episodes, f.start_s) for f in inp.spec.faults},
                       "burn_long": long_burn})
    return {"expr": objective.expr, "budget": objective.budget, "consumed": share.value,
            "consumed_ci": list(share.ci), "n": share.n, "method": share.method, "grid_s": timeline.grid,
            "alerts": alerts, "max_burn_rate": _max(alerts[0]["burn_long"])}


def consumed_scalar(objective: Objective, samples: RunSamples) -> Scalar:
    share = availability_scalars(samples.measured_in_time(objective.bad(samples)), samples.confidence)["error_rate"]
    lo, hi = share.ci
    return Scalar(share.value / objective.budget, "ratio", (lo / objective.budget, hi / objective.budget),
                  share.n, share.n_effective, share.method)


def _time_to_page(episodes: list[dict[str, float | None]], start_s: float) -> float:
    fired = [e["fired_s"] for e in episodes if e["fired_s"] >= start_s]
    return (min(fired) - start_s) * 1e3 if fired else math.nan


def _max(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.max()) if finite.size else math.nan


def objectives(slos: Iterable[SLO]) -> list[Objective]:
    """The budgets these SLOs set, once each."""
    seen: dict[tuple, Objective] = {}
    for slo in slos:
        objective = Objective.from_slo(slo)
        key = (slo.stat, slo.metric, slo.op, slo.threshold)  # the same SLO scoped to several windows: one budget
        if objective is not None and key not in seen:
            seen[key] = objective
    return list(seen.values())


def _applies(inp: SectionInput) -> bool:
    """A game day (faults), or a run that asks: burn windows set, or an SLO on the budget."""
    asked = inp.spec.faults or inp.spec.burn_windows or any(slo.metric in BUDGET_VALUES for slo in inp.slos)
    return bool(asked) and bool(objectives(inp.slos)) and inp.timeline.measured[1] > inp.timeline.measured[0]


@summary_section("budget", applies=_applies)
def budget_section(inp: SectionInput) -> SectionOutput:
    pairs = burn_pairs(inp.spec.burn_windows, inp.samples.duration_s)
    budgets = [objective_budget(objective, inp, pairs) for objective in objectives(inp.slos)]
    worst = max(budgets, key=lambda b: b["consumed"] if not math.isnan(b["consumed"]) else -1.0)
    scalars = {
        "error_budget_consumed": Scalar(worst["consumed"], "ratio", None, worst["n"],
                                        method=f"observed, of {worst['expr']}"),
        "max_burn_rate": Scalar(max(b["max_burn_rate"] for b in budgets), "x", None, None,
                                method=f"observed over the {pairs[0].long_s:g} s window of the {pairs[0].burn:g}× pair"),
    }
    section = {
        "objectives": [_json_ready(b) for b in budgets],
        "pairs": [{"burn": p.burn, "long_s": p.long_s, "short_s": p.short_s, "severity": p.severity} for p in pairs],
        "error_budget_consumed": scalars["error_budget_consumed"].value,
        "max_burn_rate": scalars["max_burn_rate"].value,
    }
    series = {"objectives": [{"expr": b["expr"], "grid_s": b["grid_s"], "alerts": b["alerts"]} for b in budgets]}
    return SectionOutput(section, series, scalars)


def _json_ready(budget: dict[str, Any]) -> dict[str, Any]:
    alerts = [{key: value for key, value in alert.items() if key != "burn_long"} for alert in budget["alerts"]]
    return {**{key: value for key, value in budget.items() if key != "grid_s"}, "alerts": alerts}
