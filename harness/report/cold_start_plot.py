"""The cold-start figure: every request's latency by its intended time, the ones that met a
cold instance marked, with the spawn, readiness and the start of the steady state."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from harness.report.plots import DPI, ERROR_COLOUR, EVENT_COLOUR, OK_COLOUR, SIZE, Series, _empty

COLD_COLOUR = "#9467bd"


def cold_start_latency(series: Series) -> Figure:
    cold_start = series["cold_start"]
    figure, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    t, latency, ok, cold = (cold_start[key] for key in ("t_s", "latency_ms", "ok", "cold"))
    if t.size == 0:
        _empty(ax, "no requests")
        return figure
    for mask, colour, label in ((ok & ~cold, OK_COLOUR, "warm, answered"), (ok & cold, COLD_COLOUR, "met a cold instance, answered")):
        ax.scatter(t[mask], latency[mask], s=5, color=colour, alpha=0.6, linewidths=0, label=label, rasterized=True)
    ax.scatter(t[~ok], latency[~ok], s=14, color=ERROR_COLOUR, marker="x", linewidths=0.8, label="failed", rasterized=True)
    for key, label in (("spawned_s", "spawned"), ("ready_s", "ready")):
        if cold_start[key] is not None:
            ax.axvline(cold_start[key], color=EVENT_COLOUR, linewidth=1.2)
            ax.annotate(f" {label}", (cold_start[key], 0.98), xycoords=("data", "axes fraction"), va="top", fontsize=8)
    ax.axvspan(cold_start["steady_after_s"], max(float(np.max(t)), cold_start["steady_after_s"]), color="grey",
               alpha=0.1, label="steady state")
    if np.nanmin(latency, initial=np.inf) > 0:
        ax.set_yscale("log")
    ax.set(title="Cold start: latency from the intended send time", xlabel="intended send time (s)",
           ylabel="latency (ms)", xlim=(0, None))
    ax.legend(loc="upper right", fontsize=8)
    return figure
