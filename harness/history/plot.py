"""A figure's trend over a scenario's runs: a PNG (each run's estimate with its interval,
coloured by the run's verdict, a cross where a regression gate failed it, the SLO's threshold
where the figure is an SLO's) and an HTML page with the plot and the runs behind its points.
Drawing only: every number is the history's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure as PlotFigure

from harness.history.store import Figure, RunEntry
from harness.report.plots import DPI, ERROR_COLOUR, EVENT_COLOUR, SIZE, SLO_COLOUR

VERDICT_COLOURS = {"pass": SLO_COLOUR, "fail": ERROR_COLOUR, "inconclusive": EVENT_COLOUR, "invalid": "grey"}
Point = tuple[RunEntry, Figure]

PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html><head><meta charset="utf-8"><title>{{ scenario }}: {{ name }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .6em;
border-bottom:1px solid #ddd;text-align:left}td.num{text-align:right}.pass{color:#2ca02c}.fail{color:#d62728}
.inconclusive{color:#ff7f0e}.invalid{color:grey}</style></head><body>
<h1>{{ scenario }}: {{ name }}</h1>
<p>{{ points | length }} runs, oldest first; each point is a run's estimate, its bar the interval the run reported.</p>
<img src="{{ png }}" alt="{{ name }} over runs">
<table><tr><th>run</th><th>started</th><th>commit</th><th>verdict</th><th>regression</th><th>estimate</th>
<th>interval</th><th>report</th></tr>
{% for run, figure in points %}<tr><td>#{{ run.id }}</td><td>{{ run.started_at or run.recorded_at }}</td>
<td>{{ (run.git_commit or "-")[:10] }}{% if run.git_dirty %}+{% endif %}</td>
<td class="{{ run.verdict }}">{{ run.verdict }}</td>
<td class="{{ run.regression or '' }}">{% if run.regression %}{{ run.regression }} vs #{{ run.baseline_id }}{% else %}-{% endif %}</td>
<td class="num">{{ number(figure.estimate) }} {{ figure.unit }}</td>
<td class="num">{% if figure.lo is not none or figure.hi is not none %}[{{ number(figure.lo) }}, {{ number(figure.hi) }}]{% else %}-{% endif %}</td>
<td><a href="{{ link(run) }}">{{ run.run_dir }}</a></td></tr>
{% endfor %}</table></body></html>
""")


def write_trend(out_dir: Path, scenario: str, name: str, runs: list[RunEntry]) -> tuple[Path, Path]:
    """`<scenario>.<name>.png` and `.html` in `out_dir`: `name` over the runs that have it."""
    points = [(run, figure) for run in runs if (figure := run.figure(name)) is not None]
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{scenario}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('_')}"
    png, html = out_dir / f"{stem}.png", out_dir / f"{stem}.html"
    figure = trend_figure(scenario, name, points)
    try:
        figure.savefig(png)
    finally:
        plt.close(figure)
    html.write_text(PAGE.render(scenario=scenario, name=name, points=points, png=png.name, number=_number,
                                link=lambda run: os.path.relpath(Path(run.run_dir) / "report.html", out_dir)))
    return png, html


def trend_figure(scenario: str, name: str, points: list[Point]) -> PlotFigure:
    figure, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    x = np.arange(len(points))
    estimate = _values([figure.estimate for _, figure in points])
    lo, hi = (_values([getattr(figure, bound) for _, figure in points]) for bound in ("lo", "hi"))
    _intervals(ax, x, estimate, lo, hi)
    ax.plot(x, estimate, color="grey", linewidth=0.8, alpha=0.6)
    verdicts = np.array([run.verdict for run, _ in points])
    for verdict, colour in VERDICT_COLOURS.items():
        mine = verdicts == verdict
        if mine.any():
            ax.scatter(x[mine], estimate[mine], color=colour, zorder=3, s=30, label=f"run {verdict}")
    regressed = np.array([run.regression == "fail" for run, _ in points], dtype=bool)
    if regressed.any():
        ax.scatter(x[regressed], estimate[regressed], marker="x", color=ERROR_COLOUR, s=120, zorder=4,
                   label="regression")
    thresholds = _values([figure.threshold for _, figure in points])
    if np.isfinite(thresholds).any():
        ax.step(x, thresholds, where="mid", color=SLO_COLOUR, linestyle=":", linewidth=1.2, label="SLO threshold")
    ax.set_xticks(x, [f"#{run.id}" for run, _ in points], rotation=90 if len(points) > 20 else 0, fontsize=8)
    unit = next((figure.unit for _, figure in points if figure.unit), "")
    ax.set(title=f"{scenario}: {name} over {len(points)} runs", xlabel="run (oldest first)",
           ylabel=f"{name} ({unit})" if unit and unit != "ratio" else name)
    ax.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return figure


def _intervals(ax: Axes, x: np.ndarray, estimate: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Each run's interval as a bar; a side the run could not bound (too few requests for a
    p99.9's upper bound) has no bar, and an open upper side is marked with a caret."""
    below = np.where(np.isfinite(lo), estimate - lo, 0.0)
    above = np.where(np.isfinite(hi), hi - estimate, 0.0)
    shown = np.isfinite(estimate) & (np.isfinite(lo) | np.isfinite(hi))
    if shown.any():
        ax.errorbar(x[shown], estimate[shown], yerr=[below[shown], above[shown]], fmt="none", ecolor="grey",
                    elinewidth=1, capsize=3, label="interval")
    open_above = np.isfinite(estimate) & ~np.isfinite(hi)
    if open_above.any():
        ax.scatter(x[open_above], estimate[open_above], marker=2, s=80, color="grey", zorder=2,
                   label="no upper bound")


def _values(values: list[float | None]) -> np.ndarray:
    """None (unknown) becomes NaN: matplotlib leaves a gap."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
