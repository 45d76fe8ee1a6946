"""The capacity curve: latency percentiles (with bounds) over achieved throughput, step by step,
with the SLO thresholds, the knee and the SLO-safe operating point. Drawing only."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from harness.report.plots import DPI, ERROR_COLOUR, EVENT_COLOUR, OK_COLOUR, SIZE, SLO_COLOUR

OUTCOME_COLOURS = {"pass": SLO_COLOUR, "fail": ERROR_COLOUR, "generator-bound": "grey"}
QUANTILE_STYLES = {"p50": ":", "p90": "--", "p99": "-"}


def capacity_curve(summary: dict[str, Any]) -> Figure:
    figure, ax = plt.subplots(figsize=(SIZE[0], SIZE[1] * 1.4), dpi=DPI)
    curve = summary["curve"]
    x = np.asarray(curve["throughput"], dtype=np.float64)
    for key, style in QUANTILE_STYLES.items():
        y = _finite(curve[key])
        ax.plot(x, y, linestyle=style, color=OK_COLOUR, linewidth=1.2, label=f"{key}({curve['metric']})")
        lo, hi = (_finite([b[i] for b in curve["ci"][key]]) for i in (0, 1))
        ax.fill_between(x, lo, hi, color=OK_COLOUR, alpha=0.08)
    for outcome, colour in OUTCOME_COLOURS.items():
        mine = np.array([o == outcome for o in curve["outcome"]], dtype=bool)
        if mine.any():
            ax.scatter(x[mine], _finite(curve["p99"])[mine], color=colour, zorder=3, s=30, label=f"step: {outcome}")
    for expr, slo in summary["thresholds"].items():
        if slo["metric"] == curve["metric"] and slo["stat"] is not None:
            ax.axhline(slo["threshold"], color=SLO_COLOUR, linestyle=":", linewidth=1.2, label=expr)
    _mark(ax, summary)
    if np.nanmin(_finite(curve["p50"]), initial=np.inf) > 0:
        ax.set_yscale("log")
    ax.set(title=f"{summary['scenario']}: latency against completed throughput",
           xlabel="completed throughput (successful answers/s inside each step)", ylabel=f"{curve['metric']} (ms)")
    ax.legend(loc="upper left", fontsize=8)
    return figure


def _mark(ax: Any, summary: dict[str, Any]) -> None:
    safe = summary["capacity"]["per_replica_rps"]
    if safe:
        ax.axvline(safe, color=SLO_COLOUR, linewidth=1.5, label=f"SLO-safe: {safe:,.4g} req/s")
    knee = summary["knee"]
    if knee:
        ax.scatter([knee["throughput"]], [knee["latency_ms"]], marker="D", s=60, color=EVENT_COLOUR, zorder=4,
                   label=f"knee: {knee['throughput']:,.4g} req/s")


def _finite(values: list[Any]) -> np.ndarray:
    """None (infinite or unknown in JSON terms) and ±inf become NaN: matplotlib leaves a gap."""
    return np.array([math.nan if v is None or not math.isfinite(v) else v for v in values], dtype=np.float64)
