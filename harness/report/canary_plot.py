"""The canary's figure: both versions' latency CDFs and prediction histograms, overlaid."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report.plots import DPI, ERROR_COLOUR, OK_COLOUR, SIZE, Series, _empty

ROLES = (("baseline", OK_COLOUR), ("candidate", ERROR_COLOUR))


def canary_distributions(series: Series) -> Figure:
    canary = series["canary"]
    versions = dict(zip(("baseline", "candidate"), canary["versions"]))
    figure, (latency, predictions) = plt.subplots(1, 2, figsize=SIZE, dpi=DPI)
    for role, colour in ROLES:
        values = np.asarray(canary[f"{role}_latency_ms"])
        if values.size:
            latency.step(values, np.arange(1, values.size + 1) / values.size, where="post", color=colour,
                         label=f"{role} v{versions[role]} (n={values.size:,})")
    latency.set(title="Latency inside the judged steps (from intended send)", xlabel="ms",
                ylabel="fraction of requests ≤ x", ylim=(0, 1.02))
    latency.legend(loc="lower right", fontsize=8)
    _prediction_histograms(predictions, canary, versions)
    return figure


def _prediction_histograms(ax: Axes, canary: Series, versions: dict[str, str]) -> None:
    samples = {role: np.asarray(canary[f"{role}_predictions"]) for role, _ in ROLES}
    if not all(values.size for values in samples.values()):
        _empty(ax, "no predictions in the answers")
        return
    edges = np.histogram_bin_edges(np.concatenate(list(samples.values())), bins=40)
    for role, colour in ROLES:
        ax.hist(samples[role], bins=edges, density=True, histtype="step", color=colour, linewidth=1.4,
                label=f"{role} v{versions[role]}")
    ax.set(title="Predictions (first output value)", xlabel="prediction", ylabel="density")
    ax.legend(loc="upper right", fontsize=8)
