"""Was the load the scenario asked for actually offered? If not, no verdict stands.

An open-loop generator that falls behind its schedule, or misses its rate, measures a
different experiment; the run is then INVALID, whatever the latencies say.
"""

from __future__ import annotations

import math

import numpy as np

from harness.analysis.spec import AnalysisSpec
from harness.analysis.stats import sorted_quantiles


def schedule_lag_table(lag_ms: np.ndarray) -> dict[str, float]:
    ordered = np.sort(lag_ms[np.isfinite(lag_ms)])
    p50, p99 = sorted_quantiles(ordered, np.array([0.5, 0.99]))
    return {"p50": float(p50), "p99": float(p99), "max": float(ordered[-1]) if ordered.size else math.nan}


def invalid_reasons(spec: AnalysisSpec, lag: dict[str, float], phases: list[dict]) -> list[str]:
    reasons = []
    if lag["p99"] > spec.max_lag_p99_ms:
        reasons.append(
            f"schedule lag p99 {lag['p99']:.3g} ms > {spec.max_lag_p99_ms:g} ms: the generator fell behind its schedule"
        )
    for phase in phases:
        target = phase["target_rate"]
        if not target:
            continue  # closed loop: there is no rate to hold
        achieved = phase["achieved_rate"]
        off = achieved / target - 1.0 if math.isfinite(achieved) else -1.0
        if abs(off) > spec.rate_tolerance:
            reasons.append(
                f"phase {phase['name']}: achieved {achieved:.4g} req/s vs target {target:.4g} req/s "
                f"({off:+.1%}, tolerance ±{spec.rate_tolerance:.1%})"
            )
    if spec.safety_valve_hit:
        reasons.append("the max-in-flight safety valve tripped: sending stopped rather than wait for a free slot")
    return reasons + list(spec.extra_invalid_reasons)


def load_summary(spec: AnalysisSpec, lag_ms: np.ndarray, phases: list[dict], requests: int, measured_requests: int) -> dict:
    """summary.json's `load` section: requests, target vs achieved rate, schedule lag and validity."""
    lag = schedule_lag_table(lag_ms)
    reasons = invalid_reasons(spec, lag, phases)
    duration = sum(phase["end_s"] - phase["start_s"] for phase in phases)
    open_loop = all(phase["target_rate"] for phase in phases) and bool(phases)
    target = sum(p["target_rate"] * (p["end_s"] - p["start_s"]) for p in phases) / duration if open_loop and duration > 0 else None
    return {
        "valid": not reasons,
        "invalid_reasons": reasons,
        "requests": requests,
        "measured_requests": measured_requests,
        "target_rate": target,
        "achieved_rate": requests / duration if duration > 0 else math.nan,
        "schedule_lag_ms": lag,
        "max_lag_p99_ms": spec.max_lag_p99_ms,
        "rate_tolerance": spec.rate_tolerance,
        "safety_valve_hit": spec.safety_valve_hit,
    }
