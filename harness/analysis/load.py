"""Was the load the scenario asked for actually offered? If not, no verdict stands.

An open-loop generator that falls behind its schedule, or misses its rate, measures a
different experiment; the run is then INVALID, whatever the latencies say. The lag is
checked at p99 and at every higher percentile that an SLO judges of a metric that runs
from the intended time: a lag tail in 0.1% of requests can set p99.9(latency) unseen.
The achieved rate counts what was *sent* inside each phase's window (plus the lag limit),
so a generator that fell behind in time is caught even when every request got sent later.
"""

from __future__ import annotations

import math

import numpy as np

from harness.analysis.spec import AnalysisSpec
from harness.analysis.stats import sorted_quantiles

CHECKED_LAG_QUANTILE = 0.99


def lag_name(q: float) -> str:
    return f"p{q * 100:.10g}"


def schedule_lag_table(lag_ms: np.ndarray, judged: tuple[float, ...] = ()) -> dict[str, float]:
    """p50, p99, max and every judged percentile of the schedule lag."""
    ordered = np.sort(lag_ms[np.isfinite(lag_ms)])
    qs = sorted({0.5, CHECKED_LAG_QUANTILE, *judged})
    values = sorted_quantiles(ordered, np.array(qs))
    table = {lag_name(q): float(v) for q, v in zip(qs, values, strict=True)}
    table["max"] = float(ordered[-1]) if ordered.size else math.nan
    return table


def lag_reasons(spec: AnalysisSpec, lag: dict[str, float], judged: tuple[float, ...], who: str = "") -> list[str]:
    """The lag rule: p99, and every judged percentile above it, within `max_lag_p99`."""
    reasons = []
    for q in sorted({CHECKED_LAG_QUANTILE, *judged}):
        name = lag_name(q)
        if lag[name] > spec.max_lag_p99_ms:
            why = "" if q == CHECKED_LAG_QUANTILE else f" ({name} of a metric from the intended time is judged)"
            reasons.append(f"{who}schedule lag {name} {lag[name]:.3g} ms > {spec.max_lag_p99_ms:g} ms{why}: "
                           f"the {'sending process' if who else 'generator'} fell behind its schedule")
    return reasons


def shard_table(spec: AnalysisSpec, lag_ms: np.ndarray, measured: np.ndarray, judged: tuple[float, ...]) -> list[dict]:
    """Each sending process's counts and schedule lag (its measured requests), from its rows of
    the record log (`lag_ms` and `measured` hold one value per row, in the log's order)."""
    rows, first = [], 0
    for shard in spec.shards:
        last = first + shard.records
        lag = lag_ms[first:last][measured[first:last]]
        rows.append({"shard": shard.shard, "sent": shard.sent, "done": shard.done, "records": shard.records,
                     "schedule_lag_ms": schedule_lag_table(lag, judged), "clock_offset_ms": shard.clock_offset_ms,
                     "clock_uncertainty_ms": shard.clock_uncertainty_ms})
        first = last
    return rows


def invalid_reasons(spec: AnalysisSpec, lag: dict[str, float], phases: list[dict], judged: tuple[float, ...],
                    shards: list[dict] = ()) -> list[str]:
    reasons = lag_reasons(spec, lag, judged)
    for shard in shards:  # one process behind its schedule spoils the run, however on time the others were
        reasons += lag_reasons(spec, shard["schedule_lag_ms"], judged, f"shard {shard['shard']}: ")
        if shard["clock_uncertainty_ms"] > spec.max_lag_p99_ms:  # its intended times are no truer than its clock
            reasons.append(f"shard {shard['shard']}: its clock is known to ±{shard['clock_uncertainty_ms']:.3g} ms "
                           f"of the runner's, more than the {spec.max_lag_p99_ms:g} ms lag allowed")
    for phase in phases:
        target = phase["target_rate"]
        if not target:
            continue  # closed loop: there is no rate to hold
        achieved = phase["achieved_rate"]
        off = achieved / target - 1.0 if math.isfinite(achieved) else -1.0
        if abs(off) > spec.rate_tolerance:
            reasons.append(
                f"phase {phase['name']}: sent {achieved:.4g} req/s inside its window vs target {target:.4g} req/s "
                f"({off:+.1%}, tolerance ±{spec.rate_tolerance:.1%})"
            )
    if spec.safety_valve_hit:
        reasons.append("the max-in-flight safety valve tripped: sending stopped rather than wait for a free slot")
    return reasons + list(spec.extra_invalid_reasons)


def latency_origin(phases: list[dict]) -> tuple[list[str], str]:
    """The closed-loop phases (no rate: their users wait for each answer), and what latency counts
    from, said plainly: summary.json and the report read it here, for every closed loop alike."""
    closed = [phase["name"] for phase in phases if phase["target_rate"] is None]
    if not closed:
        return closed, ("the intended send time: a generator that falls behind its schedule cannot hide "
                        "queueing (no coordinated omission)")
    return closed, (f"the send time in the closed-loop phase{'s' if len(closed) > 1 else ''} {', '.join(closed)}: "
                    "a user sends only after its last answer, so queueing the server causes holds back the "
                    "next send instead of showing in latency (coordinated omission); these latencies are not "
                    "open-loop measurements")


def load_summary(spec: AnalysisSpec, lag_ms: np.ndarray, phases: list[dict], requests: int, measured_requests: int,
                 judged: tuple[float, ...] = (), shards: list[dict] = ()) -> dict:
    """summary.json's `load` section: requests, target vs achieved rate, schedule lag and validity
    (and, for a sharded run, `shards`: each sending process's counts and lag)."""
    lag = schedule_lag_table(lag_ms, judged)
    reasons = invalid_reasons(spec, lag, phases, judged, shards)
    duration = sum(phase["end_s"] - phase["start_s"] for phase in phases)
    open_loop = all(phase["target_rate"] is not None for phase in phases) and bool(phases)  # an idle phase: 0
    target = sum(p["target_rate"] * (p["end_s"] - p["start_s"]) for p in phases) / duration if open_loop and duration > 0 else None
    sent_in_windows = sum(phase["sent_in_window"] for phase in phases)
    closed_loop, latency_from = latency_origin(phases)
    return {
        "valid": not reasons,
        "invalid_reasons": reasons,
        "requests": requests,
        "measured_requests": measured_requests,
        "target_rate": target,
        "achieved_rate": sent_in_windows / duration if duration > 0 else math.nan,
        "schedule_lag_ms": lag,
        "closed_loop_phases": closed_loop,
        "latency_counts_from": latency_from,
        "max_lag_p99_ms": spec.max_lag_p99_ms,
        "rate_tolerance": spec.rate_tolerance,
        "safety_valve_hit": spec.safety_valve_hit,
        "transport": dict(spec.transport),
        **({"shards": list(shards)} if spec.shards else {}),
    }
