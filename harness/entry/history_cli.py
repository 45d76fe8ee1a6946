"""`slogate history`: the stored runs as a table (or JSON), and a figure's trend as a plot.

```
slogate history [SCENARIO] [--last N] [--json]
slogate history --plot SCENARIO METRIC [--last N] [--out DIR]
```

Exit codes: 0 listed or plotted; 2 usage error, an unreachable or missing history, a
scenario with no runs to plot, or a metric no run of it has.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from harness.entry.console import STYLE
from slogate_common.registry import did_you_mean

if TYPE_CHECKING:
    from harness.history.store import RunEntry

USAGE_ERROR = 2
DEFAULT_LAST = 20
DEFAULT_PLOT_LAST = 50
TABLE_FIGURES = {"p50(latency)": "p50", "p99(latency)": "p99", "error_rate": "errors"}  # figure: column


def add_history_url_option(parser: argparse.ArgumentParser, default_place: str) -> None:
    parser.add_argument("--history-url", default=None, metavar="URL",
                        help="the history database (sqlite:///path, postgresql://user@host/db); default: "
                             f"$SLOGATE_HISTORY_URL, else history.sqlite {default_place}")


def add_history_parser(commands: Any) -> None:
    parser = commands.add_parser("history", help="list stored runs, or plot a figure's trend")
    parser.add_argument("scenario", nargs="?", metavar="SCENARIO", help="only this scenario's runs")
    parser.add_argument("--last", type=int, default=None, metavar="N",
                        help=f"the last N runs (default: {DEFAULT_LAST}; with --plot {DEFAULT_PLOT_LAST})")
    parser.add_argument("--json", action="store_true", help="print the runs and their figures as JSON")
    parser.add_argument("--plot", nargs=2, metavar=("SCENARIO", "METRIC"),
                        help="draw METRIC (p99(latency), p99, error_rate, an SLO expression) over the runs, "
                             "into a PNG and an HTML page")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the reports directory (default: reports/)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where --plot writes (default: the reports directory's trends/)")
    add_history_url_option(parser, "in the --reports directory")
    parser.set_defaults(handler=history_command)


def history_command(args: argparse.Namespace) -> int:
    from harness.history.store import HistoryError, HistoryStore, history_url

    if args.plot and args.scenario:
        print("slogate history: give SCENARIO or --plot SCENARIO METRIC, not both", file=sys.stderr)
        return USAGE_ERROR
    if args.last is not None and args.last < 1:
        print("slogate history: --last: at least 1", file=sys.stderr)
        return USAGE_ERROR
    try:
        with HistoryStore.open(history_url(args.history_url, args.reports), create=False) as store:
            if args.plot:
                return _plot(store, *args.plot, args.last or DEFAULT_PLOT_LAST, args.out or args.reports / "trends")
            runs = store.runs(args.scenario, args.last or DEFAULT_LAST)
    except HistoryError as exc:
        print(f"slogate history: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.json:
        print(json.dumps([asdict(run) for run in runs], indent=2))
    else:
        _print_table(Console(), runs, args.scenario)
    return 0


def _plot(store: Any, scenario: str, metric: str, last: int, out_dir: Path) -> int:
    from harness.history.plot import write_trend

    runs = store.runs(scenario, last)
    if not runs:
        known = store.scenarios()
        print(f"slogate history: no runs of {scenario!r} in the history{did_you_mean(scenario, known)}", file=sys.stderr)
        return USAGE_ERROR
    names = list(dict.fromkeys(figure.name for run in runs for figure in run.figures))
    name = resolve_metric(metric, names)
    if name is None:
        print(f"slogate history: no run of {scenario!r} has {metric!r}{did_you_mean(metric, names)}; "
              f"it has: {', '.join(names)}", file=sys.stderr)
        return USAGE_ERROR
    png, html = write_trend(out_dir, scenario, name, runs)
    print(f"trend: {png}\npage:  {html}")
    return 0


def resolve_metric(metric: str, names: list[str]) -> str | None:
    """The figure `metric` names: itself, or the one headline figure it abbreviates (`p99` is
    `p99(latency)`)."""
    if metric in names:
        return metric
    abbreviated = [name for name in names if name.startswith(f"{metric}(")]
    return abbreviated[0] if len(abbreviated) == 1 else None


def _print_table(console: Console, runs: list[RunEntry], scenario: str | None) -> None:
    if not runs:
        console.print(f"no runs of {scenario!r} in the history" if scenario else "no runs in the history")
        return
    table = Table(title=f"history{f' of {scenario}' if scenario else ''}: {len(runs)} runs", title_justify="left")
    named = () if scenario else ("scenario",)
    for column in ("run", "started (UTC)", *named, "verdict", "regression", "commit", "requests",
                   *TABLE_FIGURES.values(), "run directory"):
        table.add_column(column, overflow="fold")
    for run in runs:
        table.add_row(f"#{run.id}", (run.started_at or run.recorded_at or "")[:16].replace("T", " "),
                      *((run.scenario,) if not scenario else ()), _badge(run.verdict), _regression(run), _commit(run),
                      str(run.requests or ""), *(_figure(run, name) for name in TABLE_FIGURES), _near(run.run_dir))
    console.print(table)


def _near(run_dir: str) -> str:
    """The run directory relative to here where it lies below, else as stored."""
    path = Path(run_dir)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else run_dir


def _badge(verdict: str | None) -> str:
    return f"[{STYLE.get(verdict or '', 'white')}]{(verdict or '-').upper()}[/]"


def _regression(run: RunEntry) -> str:
    if run.regression is None:
        return "-"
    return f"{_badge(run.regression)} vs #{run.baseline_id}"


def _commit(run: RunEntry) -> str:
    if run.git_commit is None:
        return "-"
    return run.git_commit[:8] + ("+" if run.git_dirty else "")


def _figure(run: RunEntry, name: str) -> str:
    figure = run.figure(name)
    if figure is None or figure.estimate is None:
        return "-"
    if figure.unit == "ratio":
        return f"{figure.estimate:.3%}"
    return f"{figure.estimate:.4g} {figure.unit}".rstrip()
