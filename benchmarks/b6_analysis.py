"""Analysis + report cost on a large run: N synthetic records -> stats, verdicts, plots, HTML.

    .venv/bin/python benchmarks/bench_analysis.py [--requests 1000000] [--out DIR]

Prints the wall time of each stage and the peak RSS. Goal: 1,000,000 records in <= 12 s.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness.analysis import AnalysisSpec, PhaseSpec, analyze
from harness.analysis.synthetic import synthetic_records
from harness.report import write_report

RATE = 1000.0
SLOS = ["p50(latency) < 50ms", "p95(latency) < 300ms", "p99(latency) < 1s", "p99.9(service_time) < 2s",
        "mean(latency) < 40ms", "max(latency) < 5s", "availability >= 99.9%", "error_rate < 1%", "goodput > 900/s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    duration = args.requests / RATE
    phases = tuple(PhaseSpec(f"phase{i}", duration * i / 4, duration * (i + 1) / 4, RATE) for i in range(4))
    spec = AnalysisSpec(slos=SLOS, phases=phases, warmup_s=10.0, events=[(duration / 2, "fault")])
    telemetry = pd.DataFrame({"t_ns": np.arange(int(duration)) * 10**9, "cpu_percent": 50.0, "rss_bytes": 3e8})

    started = time.perf_counter()
    records = synthetic_records(args.requests, rate=RATE, warmup_s=10.0, error_rate=0.0005, phases=4)
    generated = time.perf_counter()
    result = analyze(records, telemetry, spec)
    analysed = time.perf_counter()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_analysis_"))
    write_report(out, result, {"scenario": "bench-analysis", "duration_s": duration})
    reported = time.perf_counter()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records          {args.requests:,} (synthetic, {generated - started:.2f} s to build; not counted)")
    print(f"analyze          {analysed - generated:.2f} s")
    print(f"report (5 PNGs + HTML + summary.json) {reported - analysed:.2f} s")
    print(f"total            {reported - generated:.2f} s   (goal <= 12 s)")
    print(f"peak RSS         {peak_mib:.0f} MiB")
    print(f"verdict          {result.verdict}; report in {out}")


if __name__ == "__main__":
    main()
