"""PNG figures drawn from `Result.series` (matplotlib Agg). Drawing only: no statistics.

Each figure function takes the series and returns a Figure; `render_plots` saves them and
hands back the PNG bytes for embedding in the HTML.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

Series = dict[str, Any]
SIZE = (11.0, 4.0)
DPI = 100
OK_COLOUR, ERROR_COLOUR, SLO_COLOUR, EVENT_COLOUR = "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"
PERCENTILE_TICKS = {2: "50%", 10: "90%", 100: "99%", 1000: "99.9%", 10_000: "99.99%", 100_000: "99.999%", 1_000_000: "99.9999%"}
MIB = 2.0**20


def _figure(rows: int = 1) -> tuple[Figure, list[Axes]]:
    figure, axes = plt.subplots(rows, 1, figsize=(SIZE[0], SIZE[1] * (1 + 0.6 * (rows - 1))), dpi=DPI, sharex=True, squeeze=False)
    return figure, list(axes[:, 0])


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey", fontsize=12)


def _timeline(ax: Axes, series: Series, labels: bool = True) -> None:
    """Warm-up shading, phase boundaries and event markers, shared by every time plot."""
    if series["warmup_s"] > 0:
        ax.axvspan(0, series["warmup_s"], color="grey", alpha=0.15, label="warm-up" if labels else None)
    for phase in series["phases"][1:]:
        ax.axvline(phase["start_s"], color="grey", linestyle="--", linewidth=1)
    if labels:
        for phase in series["phases"]:
            ax.text(phase["start_s"], 0.02, f" {phase['name']}", transform=ax.get_xaxis_transform(), va="bottom", fontsize=8, color="grey")
    for event in series["events"]:
        ax.axvline(event["t_s"], color=EVENT_COLOUR, linewidth=1.2)
        if labels:
            ax.text(event["t_s"], 0.98, f" {event['label']}", transform=ax.get_xaxis_transform(), va="top", fontsize=8, color=EVENT_COLOUR)
    ax.set_xlim(0, max(series["end_s"], 1.0))


def latency_over_time(series: Series) -> Figure:
    figure, (ax,) = _figure()
    scatter = series["scatter"]
    ok, t, latency = scatter["ok"], scatter["t_s"], scatter["latency_ms"]
    _timeline(ax, series)
    if t.size == 0:
        _empty(ax, "no requests")
    else:
        ax.scatter(t[ok], latency[ok], s=3, color=OK_COLOUR, alpha=0.5, linewidths=0, label="success", rasterized=True)
        ax.scatter(t[~ok], latency[~ok], s=12, color=ERROR_COLOUR, marker="x", linewidths=0.8, label="failure", rasterized=True)
        if np.nanmin(latency, initial=np.inf) > 0:
            ax.set_yscale("log")
    for line in series["slo_lines"]:
        if line["metric"] == "latency":
            ax.axhline(line["threshold"], color=SLO_COLOUR, linestyle=":", linewidth=1.2, label=line["expr"])
    shown = f"{t.size:,} of {scatter['total']:,} requests ({scatter['sampling']})" if scatter["sampling"] else f"{t.size:,} requests"
    ax.set(title=f"Latency (from intended send time) over time: {shown}", xlabel="time since start (s)", ylabel="latency (ms)")
    ax.legend(loc="upper right", fontsize=8)
    return figure


def latency_percentiles(series: Series) -> Figure:
    figure, (ax,) = _figure()
    cdf = series["latency_cdf"]
    if cdf["n"] == 0 or cdf["q"].size == 0:
        _empty(ax, "no requests after warm-up" if cdf["n"] == 0 else "every request after warm-up failed")
        return figure
    x = 1.0 / (1.0 - cdf["q"])
    band = f"bounds (each one-sided {series['confidence']:.0%})"
    ax.fill_between(x, cdf["lo"], cdf["hi"], color=OK_COLOUR, alpha=0.25, linewidth=0, label=band)
    ax.plot(x, cdf["latency_ms"], color=OK_COLOUR, label=f"latency, n={cdf['n']:,}")
    for line in series["slo_lines"]:
        if line["metric"] == "latency" and line["q"] is not None:
            ax.plot([1.0 / (1.0 - line["q"])], [line["threshold"]], marker="v", color=SLO_COLOUR, markersize=9, linestyle="none", label=line["expr"])
    ax.set_xscale("log")
    ticks = [tick for tick in PERCENTILE_TICKS if tick <= x.max() * 1.01]
    ax.set_xticks(ticks, [PERCENTILE_TICKS[tick] for tick in ticks])
    ax.set_xlim(1.0, max(x.max(), 2.0))
    ax.set(title="Latency by percentile (requests after warm-up; the curve ends where failures, counted as ∞, begin)",
           xlabel="percentile", ylabel="latency (ms)")
    ax.legend(loc="upper left", fontsize=8)
    return figure


def throughput(series: Series) -> Figure:
    figure, (ax,) = _figure()
    counts = series["per_second"]
    _timeline(ax, series)
    for phase in series["phases"]:
        if phase["target_rate"]:
            ax.hlines(phase["target_rate"], phase["start_s"], phase["end_s"], color="black", linewidth=1.5, label="target")
    t = counts["t_s"]
    ax.step(t, counts["scheduled"], where="post", color="grey", linewidth=1, label="scheduled")
    ax.step(t, counts["sent"], where="post", color=EVENT_COLOUR, linewidth=1, label="sent")
    ax.step(t, counts["ok"], where="post", color=OK_COLOUR, linewidth=1.2, label="completed ok")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="lower right", fontsize=8)
    ax.set(title="Throughput per second: target vs achieved", xlabel="time since start (s)", ylabel="requests / s")
    return figure


def errors(series: Series) -> Figure:
    figure, (ax,) = _figure()
    counts = series["per_second"]
    _timeline(ax, series)
    bottom = np.zeros(len(counts["t_s"]))
    for kind, per_second in counts["errors_by_kind"].items():
        ax.bar(counts["t_s"], per_second, width=1.0, align="edge", bottom=bottom, label=kind)
        bottom = bottom + per_second
    if counts["errors_by_kind"]:
        ax.legend(loc="upper right", fontsize=8)
    else:
        _empty(ax, "no errors")
    ax.set(title="Errors per second, by kind (when the failure was detected)", xlabel="time since start (s)", ylabel="errors / s")
    return figure


def server_resources(series: Series) -> Figure:
    """CPU and RSS of the server process; on a GPU server, each device's utilisation and power too."""
    telemetry = series["telemetry"]
    t, columns = telemetry["t_s"], telemetry["columns"]
    gpus = sorted(name.removesuffix("_util_percent") for name in columns if name.endswith("_util_percent"))
    figure, axes = _figure(rows=3 if gpus else 2)
    rows = [(axes[0], "cpu_percent", 1.0, "CPU (%)"), (axes[1], "rss_bytes", MIB, "RSS (MiB)")]
    for ax, name, scale, label in rows:
        _timeline(ax, series, labels=ax is axes[0])
        if name in columns:
            ax.plot(t, columns[name] / scale, color=OK_COLOUR, linewidth=1.2)
        else:
            _empty(ax, f"no {name} telemetry")
        ax.set_ylabel(label)
    if gpus:
        _gpu_row(axes[2], series, gpus)
    axes[0].set_title("Server process CPU and RSS" + (", GPU utilisation and power" if gpus else ""))
    axes[-1].set_xlabel("time since start (s)")
    return figure


def _gpu_row(ax: Axes, series: Series, gpus: list[str]) -> None:
    t, columns = series["telemetry"]["t_s"], series["telemetry"]["columns"]
    _timeline(ax, series, labels=False)
    power = ax.twinx()
    for gpu in gpus:
        ax.plot(t, columns[f"{gpu}_util_percent"], linewidth=1.2, label=f"{gpu} utilisation (%)")
        if f"{gpu}_power_w" in columns:
            power.plot(t, columns[f"{gpu}_power_w"], linewidth=1.0, linestyle="--", label=f"{gpu} power (W)")
    ax.set_ylabel("GPU (%)")
    power.set_ylabel("power (W)")
    ax.legend(loc="upper left", fontsize=8)


def llm_distributions(series: Series) -> Figure:
    """TTFT and ITL as CDFs (the thinned order statistics analysis kept), p50/p99 marked."""
    figure, axes = plt.subplots(1, 2, figsize=SIZE, dpi=DPI)
    for ax, name, title in zip(axes, ("ttft", "itl"), ("TTFT (from intended send)", "ITL (every gap between chunks)"), strict=True):
        shown = series["llm"][name]
        if shown["n"] == 0:
            _empty(ax, f"no {name.upper()} samples")
            continue
        ax.step(shown["values_ms"], shown["q"], where="post", color=OK_COLOUR, label=f"n={shown['n']:,}")
        for key, style in (("p50", "--"), ("p99", ":")):
            ax.axvline(shown[key], color=EVENT_COLOUR, linestyle=style, linewidth=1.2, label=f"{key} {shown[key]:.4g} ms")
        for line in series["slo_lines"]:
            if line["metric"] == name:
                ax.axvline(line["threshold"], color=SLO_COLOUR, linewidth=1.2, label=line["expr"])
        if shown["values_ms"][0] > 0:
            ax.set_xscale("log")
        ax.set(title=title, xlabel="ms", ylabel="fraction of samples ≤ x", ylim=(0, 1.02))
        ax.legend(loc="lower right", fontsize=8)
    return figure


def tokens_per_second(series: Series) -> Figure:
    figure, (ax,) = _figure()
    rate = series["llm"]["tokens_per_s"]
    _timeline(ax, series)
    ax.step(rate["t_s"], rate["tokens_per_s"], where="post", color=OK_COLOUR, linewidth=1.2, label="output tokens / s")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    ax.set(title="Output tokens per second (successful requests, by chunk arrival)", xlabel="time since start (s)", ylabel="tokens / s")
    return figure


FIGURES: dict[str, Callable[[Series], Figure]] = {
    "latency_over_time": latency_over_time,
    "latency_percentiles": latency_percentiles,
    "throughput": throughput,
    "errors": errors,
    "server_resources": server_resources,
}


def _fault_spans(ax: Axes, series: Series, labels: bool = True) -> None:
    """Each fault shaded from its start to its end; its recovery marked where the run shows one."""
    for fault in series["chaos"]["faults"]:
        end = fault["end_s"] if fault["end_s"] is not None else series["end_s"]
        ax.axvspan(fault["start_s"], end, color=ERROR_COLOUR, alpha=0.12, label="fault" if labels else None)
        if np.isfinite(fault["recovered_at_s"]):
            ax.axvline(fault["recovered_at_s"], color=SLO_COLOUR, linestyle=":", linewidth=1.5,
                       label="recovered" if labels else None)
        labels = False


def chaos_timeline(series: Series) -> Figure:
    figure, (latency_ax, error_ax) = _figure(rows=2)
    chaos = series["chaos"]
    for ax in (latency_ax, error_ax):
        _timeline(ax, series, labels=ax is latency_ax)
        _fault_spans(ax, series, labels=ax is latency_ax)
    t, p99 = chaos["t_s"], chaos["p99_ms"]
    shown = np.where(np.isfinite(p99), p99, np.nan)
    latency_ax.plot(t, shown, color=OK_COLOUR, linewidth=1.2, label=f"rolling p99 ({chaos_window(series)})")
    failing = ~np.isfinite(p99) & ~np.isnan(p99)
    if failing.any():
        top = np.nanmax(shown) if np.isfinite(shown).any() else 1.0
        latency_ax.scatter(t[failing], np.full(failing.sum(), top), marker="^", color=ERROR_COLOUR, s=10,
                           label="p99 = ∞ (≥1% failed)")
    for line in series["slo_lines"]:
        if line["metric"] == "latency" and line["q"] is not None:
            latency_ax.axhline(line["threshold"], color=SLO_COLOUR, linestyle="--", linewidth=1)
    latency_ax.set_yscale("log")
    latency_ax.legend(loc="upper right", fontsize=8)
    latency_ax.set(title="Rolling latency and failures through the faults", ylabel="latency (ms)")
    error_ax.plot(t, chaos["failed_share"] * 100, color=ERROR_COLOUR, linewidth=1.2, label="failed share")
    error_ax.set(xlabel="time since start (s)", ylabel="failed (%)", ylim=(-2, 102))
    return figure


def chaos_window(series: Series) -> str:
    t = series["chaos"]["t_s"]
    return f"{(t[1] - t[0]) * 4:g} s window" if t.size > 1 else "window"


def burn_rates(series: Series) -> Figure:
    objectives = series["budget"]["objectives"]
    figure, axes = _figure(rows=len(objectives))
    for ax, objective in zip(axes, objectives, strict=True):
        _timeline(ax, series, labels=ax is axes[0])
        if "chaos" in series:
            _fault_spans(ax, series, labels=False)
        for band, (alert, colour) in enumerate(zip(objective["alerts"], ("#d62728", "#ff7f0e", "#9467bd"), strict=False)):
            ax.plot(objective["grid_s"], alert["burn_long"], color=colour, linewidth=1.2,
                    label=f"burn over {alert['long_s']:g} s (alert at {alert['burn']:g}×)")
            ax.axhline(alert["burn"], color=colour, linestyle="--", linewidth=0.8)
            for episode in alert["episodes"]:
                end = episode["reset_s"] if episode["reset_s"] is not None else series["end_s"]
                ax.axvspan(episode["fired_s"], end, ymin=0.04 * band, ymax=0.04 * band + 0.03, color=colour)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize=8)
        ax.set(title=f"Error-budget burn rate: {objective['expr']} (bars: alert firing)", ylabel="burn rate (×)")
    axes[-1].set_xlabel("time since start (s)")
    return figure


def render_plots(series: Series, out_dir: Path, figures: dict[str, Callable[[Series], Figure]] = FIGURES) -> dict[str, bytes]:
    """Write `<name>.png` for every figure into `out_dir`; return the PNG bytes by name."""
    images = {}
    for name, draw in figures.items():
        figure = draw(series)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        images[name] = buffer.getvalue()
        (out_dir / f"{name}.png").write_bytes(images[name])
    return images
