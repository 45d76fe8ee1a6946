"""A run's history entry, built from its finished run directory (summary.json) and from where
it ran (provenance.py): no statistics are computed here, every figure is the analysis's own.

Headline figures are named in the SLO grammar's words: `p50(latency)` ... `p99.9(latency)`
(with the analysis's intervals), `error_rate`, `availability`, `throughput` and `goodput`.
An SLO's figure is named by its expression, and by its window where it has one
(`availability >= 99% [after(kill)]`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.history.provenance import git_state, harness_version, machine, scenario_hash
from harness.history.store import Figure, RunEntry

SCALAR_FIGURES = ("error_rate", "availability", "throughput", "goodput")


def history_entry(run_dir: Path, scenario_file: Path, overrides: Sequence[str] = ()) -> RunEntry:
    summary = json.loads((run_dir / "summary.json").read_text())
    target = summary.get("target") or {}
    commit, dirty = git_state(Path.cwd())
    return RunEntry(
        scenario=summary["scenario"],
        scenario_hash=scenario_hash(scenario_file, overrides),
        verdict=summary["verdict"],
        run_dir=str(run_dir.resolve()),
        started_at=summary.get("started_at"),
        requests=(summary.get("load") or {}).get("requests"),
        git_commit=commit,
        git_dirty=dirty,
        harness_version=harness_version(),
        server_version=_server_version(target),
        models={key: target.get(key) for key in ("model", "versions", "served")},
        machine=machine(),
        figures=(*headline_figures(summary), *slo_figures(summary)),
    )


def headline_figures(summary: dict[str, Any]) -> list[Figure]:
    latency, intervals = summary.get("latency_ms") or {}, summary.get("latency_ci_ms") or {}
    figures = [Figure("headline", f"{name}(latency)", latency.get(name), *_bounds(intervals.get(name)), "ms",
                      latency.get("n")) for name in ("p50", "p90", "p95", "p99", "p99.9") if name in latency]
    for name in SCALAR_FIGURES:
        scalar = summary.get(name) or {}
        if scalar:
            figures.append(Figure("headline", name, scalar.get("estimate"), *_bounds(scalar.get("ci")),
                                  "req/s" if name in ("throughput", "goodput") else "ratio", scalar.get("n")))
    return figures


def slo_figures(summary: dict[str, Any]) -> list[Figure]:
    return [Figure("slo", slo_figure_name(slo), slo.get("estimate"), *_bounds(slo.get("ci")), slo.get("unit") or "",
                   slo.get("n"), slo.get("verdict"), slo.get("threshold"))
            for slo in summary.get("slos") or [] if slo.get("judged", True)]


def slo_figure_name(slo: dict[str, Any]) -> str:
    window = slo.get("window")
    return slo["expr"] if window in (None, "run") else f"{slo['expr']} [{window}]"


def _bounds(ci: Any) -> tuple[float | None, float | None]:
    return (ci[0], ci[1]) if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None)


def _server_version(target: dict[str, Any]) -> str | None:
    server = target.get("server") or {}
    return " ".join(part for part in (server.get("name"), server.get("version")) if part) or None
