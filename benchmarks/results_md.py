"""Render a suite run as benchmarks/RESULTS.md. Formatting only: every figure comes computed."""

from __future__ import annotations

import math
import os
from pathlib import Path

from benchmarks.suite import BenchResult, Goal, Table


def render(results: list[BenchResult], mode: str, machine: dict[str, str], versions: dict[str, str],
           path: Path, command: str) -> str:
    lines = [
        "# slogate peer benchmarks",
        "",
        (f"Written by `{command}` ({mode} mode). Every ratio compares figures measured in the same run, "
         "on the same machine, against the same target; re-running replaces this file."),
        "",
        "## Machine",
        "",
        *_key_values(machine),
        "",
        "## Versions",
        "",
        *_key_values({**versions, **_peer_versions(results)}),
        "",
        "## Goals",
        "",
        *_goals_table(results),
        "",
    ]
    for result in results:
        lines += _section(result, path.parent)
    return "\n".join(lines) + "\n"


def _key_values(values: dict[str, str]) -> list[str]:
    return [f"- {key}: {value}" for key, value in values.items()]


def _peer_versions(results: list[BenchResult]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for result in results:
        merged.update(result.versions)
    return merged


def _goals_table(results: list[BenchResult]) -> list[str]:
    rows = [[r.key, g.claim, _measured(g), g.target, _met(g)] for r in results for g in r.goals]
    rows += [[r.key, "(benchmark failed)", "-", "-", f"error: {r.error}"] for r in results if r.error]
    return _markdown_table(["", "claim", "measured", "goal", "met"], rows)


def _measured(goal: Goal) -> str:
    if goal.measured is None:
        return "-"
    shown = f"{_number(goal.measured)}{goal.unit}"
    if goal.interval is not None:
        shown += f" [{_number(goal.interval[0])}, {_number(goal.interval[1])}]"
    return shown


def _met(goal: Goal) -> str:
    if goal.met is None and goal.interval is not None:
        return "inconclusive: the interval straddles the goal"
    return {True: "yes", False: "**no**", None: "not measured"}[goal.met]


def _guards(micro: tuple[str, ...]) -> str:
    if not micro:
        return "Micro-benchmark: none isolates this figure."
    links = ", ".join(f"[`{node}`](micro/{node.split('::')[0]})" for node in micro)
    return f"Guarded between commits by the micro-benchmarks {links} (`python -m benchmarks micro --compare`)."


def _section(result: BenchResult, base: Path) -> list[str]:
    lines = [f"## {result.key}: {result.title}", "", result.method.strip(), "", _guards(result.micro), ""]
    if result.error:
        lines += [f"**This benchmark failed:** {result.error}", ""]
    for table in result.tables:
        lines += _table(table)
    for plot in result.plots:
        lines += [f"![{plot.stem}]({os.path.relpath(plot, base)})", ""]
    lines += [f"- {note}" for note in result.notes]
    lines += ["", f"_{result.seconds:.0f} s._", ""]
    return lines


def _table(table: Table) -> list[str]:
    return [f"**{table.title}**", "", *_markdown_table(table.columns, table.rows), ""]


def _markdown_table(columns: list[str], rows: list[list[object]]) -> list[str]:
    cells = [[_cell(value) for value in row] for row in rows]
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] + ["| " + " | ".join(r) + " |"
                                                                                for r in cells]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return _number(value)
    return "-" if value is None else str(value).replace("|", "\\|")


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
