"""A capacity search's figures (pure; no I/O): each step's curve point, over-saturation and
stability, the latency-throughput knee, replicas for a peak and the cost at the SLO.

- Over-saturation (GuideLLM's constraint): a short step can meet its SLOs while its queue
  grows; latency that rises through the step, by more than half its median and with the
  Theil-Sen slope's interval above zero, marks the rate as past capacity.
- Stability (perf_analyzer's): the step's thirds agree on throughput and median latency
  within 10%. Reported, not judged: a Poisson third of 300 requests already varies by ±6%.
- The knee: the point of maximum curvature of a monotone PCHIP fit of a latency quantile
  over achieved throughput, both axes scaled to [0, 1] (vLLM's SLA sweep interpolates the
  same way). The SLO-safe operating point is the highest passing rate, not the knee.
- Replicas for a peak: ceil(peak × (1 + headroom) / per-replica capacity), assuming each
  replica serves what one measured replica did (no measured scaling yet).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import interpolate
from scipy import stats as sps

from harness.analysis.cost import cost_per_1k, cost_per_million
from harness.analysis.llm_summary import metric_table
from harness.analysis.samples import RunSamples
from harness.clock import NS_PER_S

SATURATION_GROWTH = 0.5  # latency rising by half its median within one step: the queue grows
STABILITY_TOLERANCE = 0.10
MAX_SLOPE_POINTS = 2_000  # Theil-Sen is O(n²): an even thinning keeps the slope and bounds
KNEE_GRID = 512
HOURS_PER_MONTH = 730.0  # the cloud providers' billing month


def step_figures(records: pd.DataFrame, window_s: tuple[float, float], confidence: float,
                 metrics: tuple[str, ...]) -> dict[str, Any]:
    """One step's point on the curve: each metric's percentiles with bounds, over-saturation
    and stability, from the step's records."""
    samples = RunSamples(records, window_s[1] - window_s[0], confidence, window_s)
    return {
        "completed_rps": completed_rate(records, samples),
        "metrics": {name: metric_table(samples.judged(name), confidence) for name in metrics},
        "saturation": saturation(records, samples, confidence),
        "stability": stability(records, samples),
    }


def completed_rate(records: pd.DataFrame, samples: RunSamples) -> float:
    """Successful answers per second that arrived inside the window: what the server kept up
    with. Throughput by intended time counts an overloaded step's backlog as served."""
    done_s = records["done_ns"].to_numpy(np.int64) / NS_PER_S
    start, end = samples.window_s
    inside = samples.ok & (done_s >= start) & (done_s < end)
    return float(inside.sum() / (end - start)) if end > start else math.nan


def saturation(records: pd.DataFrame, samples: RunSamples, confidence: float) -> dict[str, Any]:
    t_s, latency = _measured_latencies(records, samples)
    if latency.size < 20:
        return {"saturated": False, "slope_ms_per_s": math.nan, "ci": [math.nan, math.nan], "growth_ms": math.nan,
                "reason": "too few answered requests to fit a trend"}
    keep = np.linspace(0, latency.size - 1, min(latency.size, MAX_SLOPE_POINTS)).round().astype(np.int64)
    fit = sps.theilslopes(latency[keep], t_s[keep], alpha=confidence)
    growth = fit.slope * samples.duration_s
    median = float(np.median(latency))
    saturated = bool(fit.low_slope > 0 and growth > SATURATION_GROWTH * median)
    reason = (f"latency rose {growth:.3g} ms over the step (median {median:.3g} ms; Theil-Sen slope "
              f"{fit.slope:.3g} ms/s, {confidence:.0%} interval [{fit.low_slope:.3g}, {fit.high_slope:.3g}])")
    return {"saturated": saturated, "slope_ms_per_s": float(fit.slope), "ci": [float(fit.low_slope), float(fit.high_slope)],
            "growth_ms": float(growth), "median_ms": median, "reason": reason}


def _measured_latencies(records: pd.DataFrame, samples: RunSamples) -> tuple[np.ndarray, np.ndarray]:
    rows = samples.judged_rows
    t_s = records["intended_ns"].to_numpy(np.int64)[rows] / NS_PER_S
    latency = samples.values("latency")[rows]
    order = np.argsort(t_s, kind="stable")
    return t_s[order], latency[order]


def stability(records: pd.DataFrame, samples: RunSamples) -> dict[str, Any]:
    t_s, latency = _measured_latencies(records, samples)
    start, end = samples.window_s
    edges = np.linspace(start, end, 4)
    thirds = [(t_s >= lo) & (t_s < hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    if any(part.sum() == 0 for part in thirds):
        return {"stable": False, "throughput": [], "p50_ms": [], "reason": "a third of the step had no answers"}
    width = (end - start) / 3
    throughput = [float(part.sum() / width) for part in thirds]
    medians = [float(np.median(latency[part])) for part in thirds]
    stable = _within(throughput) and _within(medians)
    return {"stable": stable, "throughput": throughput, "p50_ms": medians,
            "reason": f"thirds {'agree' if stable else 'differ'} within {STABILITY_TOLERANCE:.0%} on throughput and p50"}


def _within(values: list[float]) -> bool:
    low, high = min(values), max(values)
    return low > 0 and high / low - 1.0 <= STABILITY_TOLERANCE


def knee(throughput: np.ndarray, latency: np.ndarray) -> dict[str, float] | None:
    """The maximum-curvature point of a monotone PCHIP fit; None with fewer than 3 usable points."""
    finite = np.isfinite(throughput) & np.isfinite(latency)
    x, y = throughput[finite], latency[finite]
    order = np.argsort(x)
    x, y = x[order], np.maximum.accumulate(y[order])  # latency does not fall as load rises
    x, keep = np.unique(x, return_index=True)
    y = y[keep]
    if x.size < 3 or x[-1] == x[0] or y[-1] == y[0]:
        return None
    xs, ys = (x - x[0]) / (x[-1] - x[0]), (y - y[0]) / (y[-1] - y[0])
    fit = interpolate.PchipInterpolator(xs, ys)
    grid = np.linspace(0.0, 1.0, KNEE_GRID)
    first, second = fit.derivative(1)(grid), fit.derivative(2)(grid)
    curvature = np.abs(second) / (1.0 + first**2) ** 1.5
    at = int(np.argmax(curvature))
    return {"throughput": float(x[0] + grid[at] * (x[-1] - x[0])), "latency_ms": float(y[0] + fit(grid[at]) * (y[-1] - y[0])),
            "method": "maximum curvature of a monotone PCHIP fit (axes scaled to [0, 1])"}


def replicas_for_peak(peak: float, headroom: float, per_replica: float) -> dict[str, Any]:
    needed = peak * (1.0 + headroom)
    replicas = max(1, math.ceil(needed / per_replica))
    return {"peak_rate": peak, "headroom": headroom, "per_replica": per_replica, "replicas": replicas,
            "utilisation_at_peak": peak / (replicas * per_replica),
            "scaling": "linear: each replica serves what the one measured replica did (no multi-replica measurement)"}


def cost_at_slo(instance: dict[str, Any], per_replica: float, tokens_per_s: dict[str, float] | None,
                replicas: dict[str, Any] | None) -> dict[str, Any]:
    """The instance's price over the highest rate that met the SLOs; at the peak, over the fleet."""
    hourly = instance["price_per_hour"]
    cost = {"instance": instance["instance"], "price_per_hour": hourly, "source": instance["source"],
            "as_of": instance["as_of"], "cost_per_1k_at_slo": cost_per_1k(hourly, per_replica)}
    for kind, rate in (tokens_per_s or {}).items():
        cost[f"cost_per_1m_{kind}_tokens_at_slo"] = cost_per_million(hourly, rate)
    if replicas is not None:
        fleet = hourly * replicas["replicas"]
        cost |= {"fleet_per_hour": fleet, "fleet_per_month": fleet * HOURS_PER_MONTH,
                 "cost_per_1k_at_peak": cost_per_1k(fleet, replicas["peak_rate"])}
    return cost


def capacity_summary(facts: dict[str, Any], steps: list[dict[str, Any]], retried: list[dict[str, Any]],
                     found: Any, instances: tuple[dict[str, Any], ...], peak_rate: float | None,
                     headroom: float) -> dict[str, Any]:
    """capacity.json: every step, the bracket, the SLO-safe capacity per replica, the knee,
    replicas for the peak and the cost at the SLO on each priced instance.

    `found` is the search's Bracket. The capacity per replica is the highest passing step's
    offered rate (what was certified), or for a closed loop the rate it completed."""
    top = max((s for s in steps if s["outcome"] == "pass"), key=lambda s: s["rate"], default=None)
    per_replica = None if top is None else (top["rate"] if facts["knob"] == "rate" else top["figures"]["completed_rps"])
    replicas = replicas_for_peak(peak_rate, headroom, per_replica) if peak_rate and per_replica else None
    tokens = top["tokens_per_s"] if top else {}
    return {
        **facts,
        "result": _result(found),
        "bracket": {"highest_pass": found.highest_pass, "lowest_miss": found.lowest_miss, "width": found.width,
                    "ended_by": found.ended_by},
        "capacity": {"per_replica_rps": per_replica, "at_step": None if top is None else top["index"],
                     "goodput_rps": None if top is None else top["goodput"]["estimate"], "tokens_per_s": tokens},
        "knee": _knee_of(steps, facts["curve_metric"]),
        "replicas": replicas,
        "cost": [cost_at_slo(instance, per_replica, tokens, replicas) for instance in instances] if per_replica else [],
        "curve": _curve(steps, facts["curve_metric"]),
        "steps": steps,
        "retried": retried,
    }


def _result(found: Any) -> str:
    if found.highest_pass is None:
        return "none passed"
    return "bracketed" if found.ended_by == "bracketed" else "lower bound"


def _curve(steps: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The points the curve plot draws, sorted by achieved throughput."""
    ordered = sorted(steps, key=lambda s: (s["figures"]["completed_rps"], s["rate"]))
    table = [s["figures"]["metrics"][metric] for s in ordered]
    return {
        "metric": metric,
        "throughput": [s["figures"]["completed_rps"] for s in ordered],
        "offered": [s["rate"] for s in ordered],
        "outcome": [s["outcome"] for s in ordered],
        **{key: [t[key] for t in table] for key in ("p50", "p90", "p99")},
        "ci": {key: [t["ci"][key] for t in table] for key in ("p50", "p90", "p99")},
    }


def _knee_of(steps: list[dict[str, Any]], metric: str) -> dict[str, float] | None:
    x = np.array([s["figures"]["completed_rps"] for s in steps], dtype=np.float64)
    y = np.array([s["figures"]["metrics"][metric]["p99"] for s in steps], dtype=np.float64)
    found = knee(x, y)
    return None if found is None else {**found, "quantile": "p99", "metric": metric}
