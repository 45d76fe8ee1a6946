"""The feature-store figure: each second's answers, served from the store or filled by a
fallback, on the run's timeline (its faults marked): an outage shows as the fallback share."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from harness.report.plots import DPI, ERROR_COLOUR, OK_COLOUR, SIZE, Series, _timeline


def fallbacks_over_time(series: Series) -> Figure:
    per_second = series["feature_store"]["per_second"]
    t = np.asarray(per_second["t_s"], dtype=float)
    answers = np.asarray(per_second["answers"], dtype=float)
    fallbacks = np.asarray(per_second["fallbacks"], dtype=float)
    figure, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    # steps, not lines: each bar is one second of intended sends
    ax.stackplot(t, answers - fallbacks, fallbacks, colors=(OK_COLOUR, ERROR_COLOUR), alpha=0.6,
                 labels=("features from the store", "filled by a fallback"), step="post")
    _timeline(ax, series)
    ax.set(title="Answers per second by where their features came from", xlabel="intended send time (s)",
           ylabel="answers/s", ylim=(0, None))
    ax.legend(loc="upper left", fontsize=8)
    return figure
