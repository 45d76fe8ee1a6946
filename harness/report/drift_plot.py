"""The drift figure: the monitor's effect size of each moved column over the run, the largest
of the undrifted columns, the threshold and each onset."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from harness.report.plots import DPI, OK_COLOUR, SIZE, Series, _empty


def drift_scores(series: Series) -> Figure:
    drift = series["drift"]
    figure, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    if not drift["drifted"] and drift["undrifted_max"] is None:
        _empty(ax, "the target published no drift monitor gauges")
        return figure
    thresholds = set()
    for name, (t_s, values, threshold) in drift["drifted"].items():
        ax.plot(t_s, values, label=name)
        thresholds.add(threshold)
    if drift["undrifted_max"] is not None:
        t_s, values = drift["undrifted_max"]
        ax.plot(t_s, values, color=OK_COLOUR, linestyle=":", label="undrifted columns, largest")
    for threshold in sorted(thresholds):
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    for at_s, tag in drift["onsets"]:
        ax.axvline(at_s, color="black", linewidth=1)
        ax.annotate(tag, (at_s, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                    va="top", ha="right")
    # symlog: a swapped column scores in the hundreds, the threshold is 0.1 and both must show
    ax.set_yscale("symlog", linthresh=min(thresholds, default=0.1))
    ax.set(title="Drift monitor: each column's effect size against its baseline", xlabel="s into the run",
           ylabel="normed Wasserstein / Jensen-Shannon", xlim=(0, None), ylim=(0, None))
    ax.legend(loc="upper left", fontsize=8)
    return figure
