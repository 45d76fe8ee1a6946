"""The retry-storm figure: retries sent per second over the first attempts, on the run's
timeline (its faults marked), so a storm that outlives its cause shows as retries that go on
after the fault's end."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from harness.report.plots import DPI, ERROR_COLOUR, OK_COLOUR, SIZE, Series, _timeline


def retries_over_time(series: Series) -> Figure:
    retries = series["retries"]
    figure, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    # steps, not lines: a line between two bins would draw retries before the fault that caused them
    ax.stackplot(retries["t_s"], retries["first_per_s"], retries["retries_per_s"], colors=(OK_COLOUR, ERROR_COLOUR),
                 alpha=0.6, labels=("first attempts", "retries"), step="post")
    _timeline(ax, series)
    ax.set(title="Attempts per second: first attempts and retries", xlabel="time (s)", ylabel="attempts/s",
           ylim=(0, None))
    ax.legend(loc="upper left", fontsize=8)
    return figure
