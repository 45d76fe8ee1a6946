"""The analysis input B6 and the analysis micro-benchmarks share. It lives in benchmarks/micro
so that `python -m benchmarks micro --compare` carries it into an older base tree too; it
uses only harness.analysis, and imports it when called, so the peer suite's parent process
never loads the analysis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from harness.analysis import AnalysisSpec

RATE = 1000.0
SLOS = ["p50(latency) < 50ms", "p95(latency) < 300ms", "p99(latency) < 1s", "p99.9(service_time) < 2s",
        "mean(latency) < 40ms", "max(latency) < 5s", "availability >= 99.9%", "error_rate < 1%", "goodput > 900/s"]


@dataclass(frozen=True)
class AnalysisInputs:
    """What B6 (and the analysis micro-benchmarks) hand to `analyze`: a run of `requests`."""

    records: pd.DataFrame
    telemetry: pd.DataFrame
    spec: AnalysisSpec
    duration_s: float


def analysis_inputs(requests: int) -> AnalysisInputs:
    """1,000 req/s in four phases, 0.05% errors, a warm-up to drop, a fault marker, nine SLOs."""
    import numpy as np
    import pandas as pd

    from harness.analysis import AnalysisSpec, PhaseSpec
    from harness.analysis.synthetic import synthetic_records

    duration = requests / RATE
    phases = tuple(PhaseSpec(f"phase{i}", duration * i / 4, duration * (i + 1) / 4, RATE) for i in range(4))
    spec = AnalysisSpec(slos=SLOS, phases=phases, warmup_s=min(10.0, duration / 10), events=[(duration / 2, "fault")])
    telemetry = pd.DataFrame({"t_ns": np.arange(int(duration)) * 10**9, "cpu_percent": 50.0, "rss_bytes": 3e8})
    records = synthetic_records(requests, rate=RATE, warmup_s=spec.warmup_s, error_rate=0.0005, phases=4)
    return AnalysisInputs(records, telemetry, spec, duration)
