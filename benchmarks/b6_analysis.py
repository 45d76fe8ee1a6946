"""B6: analysis speed. N synthetic records -> stats, verdicts, plots, HTML, summary.json.

The analysis runs in a child process so its peak RSS is its own, not the suite's. Goal:
1,000,000 records in ≤ 12 s here, which is 2% of a 10-minute run.

    python -m benchmarks.b6_analysis [--requests 1000000] [--out DIR]   # one measurement, JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.micro.inputs import SLOS, analysis_inputs
from benchmarks.suite import BenchResult, Context, Table, at_most, register

GOAL_S = 12.0


def measure(requests: int, out: Path) -> dict[str, float]:
    from harness.analysis import analyze
    from harness.report import write_report
    from harness.report.meta import RunMeta

    inputs = analysis_inputs(requests)
    records, telemetry, spec, duration = inputs.records, inputs.telemetry, inputs.spec, inputs.duration_s
    started = time.perf_counter()
    result = analyze(records, telemetry, spec)
    analysed = time.perf_counter()
    write_report(out, result, RunMeta("bench-analysis", None, duration_s=duration))
    reported = time.perf_counter()
    return {"requests": requests, "analyze_s": analysed - started, "report_s": reported - analysed,
            "total_s": reported - started, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "slos": len(SLOS), "files": len(list(out.iterdir()))}


@register("B6")
class AnalysisSpeed:
    title = "Analysis speed: one million records to a full report"
    micro = ("test_analysis.py", "test_statistics.py::test_verdicts_of_twenty_slos_over_a_million_records")

    def run(self, ctx: Context) -> BenchResult:
        requests = ctx.mode.pick(1_000_000, 1_000_000, tiny=20_000)
        rounds = ctx.mode.pick(3, 1)
        runs = [self._child(requests, ctx.work / f"b6-{i}") for i in range(rounds)]
        best = min(runs, key=lambda r: r["total_s"])
        table = Table(f"{requests:,} synthetic records, {len(SLOS)} SLOs, 4 phases, a fault marker",
                      ["round", "analyze s", "report s (PNGs, HTML, JSON)", "total s", "peak RSS MiB"],
                      [[i + 1, r["analyze_s"], r["report_s"], r["total_s"], r["peak_rss_mib"]]
                       for i, r in enumerate(runs)])
        return BenchResult(
            self.key, self.title, METHOD, tables=[table],
            goals=[at_most(f"analysis + report of {requests:,} records, best of {rounds}", best["total_s"],
                           GOAL_S, " s")],
            notes=["Building the synthetic records is not counted: a real run has them already."],
        )

    def _child(self, requests: int, out: Path) -> dict[str, float]:
        command = [sys.executable, "-m", "benchmarks.b6_analysis", "--requests", str(requests), "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
        return json.loads(done.stdout)


METHOD = """
slogate's own analysis (`harness.analysis.analyze_run`) and report writer on synthetic records:
1,000 req/s, four phases, 0.05% errors, a warm-up to drop, nine SLOs with confidence
intervals, then the five PNGs, the self-contained HTML and summary.json. Each round is a
fresh process, so its peak RSS is the analysis's own. There is no peer: the goal is an
absolute budget, 2% of a 10-minute run.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    print(json.dumps(measure(args.requests, args.out or Path(tempfile.mkdtemp(prefix="bench_analysis_")))))


if __name__ == "__main__":
    main()
