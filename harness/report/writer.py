"""Write a run's report: summary.json, then report.html and its PNGs."""

from __future__ import annotations

from pathlib import Path

from harness.analysis.analyze_run import Result
from harness.report.html import render_html
from harness.report.meta import RunMeta
from harness.report.summary import build_summary, write_summary


def write_report(run_dir: Path, result: Result, meta: RunMeta) -> None:
    """summary.json (the run's metadata, then its analysis), report.html and the PNGs, all into `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = build_summary(result.summary, meta)
    write_summary(run_dir / "summary.json", summary)
    render_html(run_dir, summary, result.series, result.sections)
