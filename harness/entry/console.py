"""The end-of-run verdict table on the console (formatting only; no statistics here)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.report.formatting import target_line

STYLE = {"pass": "green", "fail": "red", "inconclusive": "yellow", "invalid": "magenta"}


def print_verdict(console: Console, summary: dict, run_dir: Path) -> None:
    table = Table(title=f"{summary.get('scenario', '?')}: {_badge(summary['verdict'])}", title_justify="left")
    results = summary.get("slos", [])
    windowed = any(slo.get("window") not in (None, "run") for slo in results)
    for column in ("SLO", *(("window",) if windowed else ()), "verdict", "estimate", "CI", "n", "why"):
        table.add_column(column, overflow="fold")
    for slo in results:
        window = (_window(slo),) if windowed else ()
        table.add_row(
            slo["expr"], *window, _badge(slo["verdict"]), _number(slo.get("estimate"), slo.get("unit")),
            _interval(slo.get("ci")), str(slo.get("n", "")), slo.get("reason") or "",
        )
    console.print(table)
    if summary.get("target"):
        console.print(f"target {target_line(summary['target'])}", highlight=False)
    load = summary.get("load", {})
    lag = load.get("schedule_lag_ms", {})
    console.print(
        f"requests {load.get('requests', 0)}  target {_number(load.get('target_rate'), 'req/s')}  "
        f"achieved {_number(load.get('achieved_rate'), 'req/s')}  lag p99 {_number(lag.get('p99'), 'ms')}",
        highlight=False,
    )
    for reason in load.get("invalid_reasons", []):
        console.print(f"[magenta]invalid:[/magenta] {reason}", highlight=False)
    console.print(f"report: {run_dir / 'report.html'}", highlight=False)


def _window(slo: dict) -> str:
    return str(slo.get("window")) + ("" if slo.get("judged", True) else " (reported)")


def _badge(verdict: str) -> str:
    return f"[{STYLE.get(verdict, 'white')}]{verdict.upper()}[/]"


def _number(value, unit: str | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}" if unit and unit != "ratio" else text


def _interval(ci) -> str:
    if not ci or all(bound is None for bound in ci):
        return "-"
    return "[" + ", ".join("-" if bound is None else f"{bound:.4g}" for bound in ci) + "]"
