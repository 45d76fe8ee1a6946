"""One million records to a summary (statistics and verdicts, no plots), and to a full report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.report import write_report
from harness.report.meta import RunMeta

from .conftest import MILLION, RATE

DURATION_S = MILLION / RATE
SLOS = ["p50(latency) < 50ms", "p95(latency) < 300ms", "p99(latency) < 1s", "p99.9(service_time) < 2s",
        "mean(latency) < 40ms", "max(latency) < 5s", "availability >= 99.9%", "error_rate < 1%", "goodput > 900/s"]
SPEC = AnalysisSpec(slos=SLOS, warmup_s=10.0, events=[(DURATION_S / 2, "fault")],
                    phases=tuple(PhaseSpec(f"phase{i}", DURATION_S * i / 4, DURATION_S * (i + 1) / 4, RATE)
                                 for i in range(4)))
TELEMETRY = pd.DataFrame({"t_ns": np.arange(int(DURATION_S)) * 10**9, "cpu_percent": 50.0, "rss_bytes": 3e8})


def test_analyze_a_million_records(benchmark, million_records) -> None:
    result = benchmark.pedantic(analyze, (million_records, TELEMETRY, SPEC), rounds=3)
    assert result.summary["load"]["requests"] == MILLION and len(result.summary["slos"]) == len(SLOS)


def test_full_report_of_a_million_records(benchmark, million_records, tmp_path) -> None:
    """B6's figure, in small: analysis, PNGs, HTML and summary.json."""
    def report() -> None:
        write_report(tmp_path, analyze(million_records, TELEMETRY, SPEC), RunMeta("micro-report", None,
                                                                                  duration_s=DURATION_S))

    benchmark.pedantic(report, rounds=3)
    assert (tmp_path / "report.html").stat().st_size > 0
