"""Server-side time series (CPU, RSS, /metrics gauges): a summary and the arrays to plot.

Columns come and go with the target (an external server has no process stats, a server
without /metrics has only those), so everything here takes whatever numeric columns exist.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.clock import NS_PER_S


def _numeric_columns(frame: pd.DataFrame | None) -> list[str]:
    """The totals; per-label-set columns (`name{label=value}`, one per feature and method of a
    drift monitor) are read by the analyses that need them, not summarised wholesale."""
    if frame is None or frame.empty or "t_ns" not in frame:
        return []
    return [name for name in frame.select_dtypes(include="number").columns if name != "t_ns" and "{" not in name]


def telemetry_summary(frame: pd.DataFrame | None) -> dict[str, dict[str, float]]:
    """min, mean, max and last finite value of every numeric column."""
    summary = {}
    for name in _numeric_columns(frame):
        values = frame[name].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            summary[name] = {"min": math.nan, "mean": math.nan, "max": math.nan, "last": math.nan, "n": 0}
            continue
        summary[name] = {
            "min": float(values.min()),
            "mean": float(values.mean()),
            "max": float(values.max()),
            "last": float(values[-1]),
            "n": int(values.size),
        }
    return summary


def telemetry_series(frame: pd.DataFrame | None) -> dict:
    columns = _numeric_columns(frame)
    if not columns:
        return {"t_s": np.empty(0), "columns": {}}
    ordered = frame.sort_values("t_ns")
    return {
        "t_s": ordered["t_ns"].to_numpy(dtype=np.float64) / NS_PER_S,
        "columns": {name: ordered[name].to_numpy(dtype=np.float64) for name in columns},
    }
