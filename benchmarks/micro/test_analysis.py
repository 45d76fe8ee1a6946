"""One million records to a summary (statistics and verdicts, no plots), and to a full report: B6's work."""

from __future__ import annotations

from harness.analysis import analyze
from harness.report import write_report
from harness.report.meta import RunMeta

from .conftest import MILLION


def test_analyze_a_million_records(benchmark, million) -> None:
    result = benchmark.pedantic(analyze, (million.records, million.telemetry, million.spec), rounds=3)
    assert result.summary["load"]["requests"] == MILLION and len(result.summary["slos"]) == len(million.spec.slos)


def test_full_report_of_a_million_records(benchmark, million, tmp_path) -> None:
    """B6's figure, in small: analysis, PNGs, HTML and summary.json."""
    def report() -> None:
        result = analyze(million.records, million.telemetry, million.spec)
        write_report(tmp_path, result, RunMeta("micro-report", None, duration_s=million.duration_s))

    benchmark.pedantic(report, rounds=3)
    assert (tmp_path / "report.html").stat().st_size > 0
