"""The soak figure: the server's RSS with its fitted trend, and its open descriptors and
threads, over the run's timeline, so a leak reads as a line that keeps climbing."""

from __future__ import annotations

from matplotlib.figure import Figure

from harness.report.plots import EVENT_COLOUR, OK_COLOUR, Series, _empty, _figure, _timeline

ROWS = (("rss", "RSS (MiB)"), ("fds", "open descriptors"), ("threads", "threads"))


def resources_over_time(series: Series) -> Figure:
    resources = series["resources"]
    figure, axes = _figure(rows=len(ROWS))
    for ax, (name, label) in zip(axes, ROWS, strict=True):
        _timeline(ax, series, labels=ax is axes[0])
        if len(resources[name]):
            ax.plot(resources["t_s"], resources[name], color=OK_COLOUR, linewidth=1.2, drawstyle="steps-post")
        else:
            _empty(ax, f"no {label} samples")
        ax.set_ylabel(label)
    if len(resources["rss_fit"]):
        axes[0].plot(resources["t_s"], resources["rss_fit"], color=EVENT_COLOUR, linestyle="--", linewidth=1.2,
                     label="fitted trend")
        axes[0].legend(loc="upper left", fontsize=8)
    axes[0].set_title("Server process over the measured span: RSS and its trend, descriptors, threads")
    axes[-1].set_xlabel("time since start (s)")
    return figure
