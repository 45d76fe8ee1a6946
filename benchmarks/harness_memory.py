"""How a long run's memory grows: slogate against nginx at a fixed rate, its resident set
sampled every second, the growth per million records fitted with an interval.

    python -m benchmarks.harness_memory [--rate 5000] [--minutes 30] [--procs 1]

The record log's own cost is bounded in CI (tests/harness/test_record_memory.py: at most
200 bytes a record); this is the whole process over a long run: the schedule, the records,
the client's pools and whatever else grows. One sending process holds 5,000 req/s against
nginx with room to spare (B11: 16,000 with lag p99 < 1 ms on 2 quiet cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from benchmarks.b1_generator import start_nginx
from benchmarks.processes import ROOT
from benchmarks.sharded_generator import write_rows
from harness.analysis.trend import slope_estimate

MIB = 2**20
USAGE_ERROR = 2  # slogate run's exit code for a scenario or target it could not run
SCENARIO = """\
name: harness-memory
seed: 1
target: {{url: {url}, protocol: http-json, request_timeout: 2s}}
workload:
  phases:
    - {{name: long, duration: {seconds}s, arrival: {{process: constant, rate: {rate}}}}}
  payload: {{generator: file, path: {rows}}}
slos:
  - error_rate < 1%
"""


def sample_rss(process: psutil.Popen) -> tuple[list[float], list[float]]:
    started, times, rss = time.perf_counter(), [], []
    while process.poll() is None:
        try:
            rss.append(sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / MIB)
            times.append(time.perf_counter() - started)
        except psutil.Error:
            break
        time.sleep(1.0)
    return times, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--procs", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slogate-memory-"))
    nginx, url = start_nginx(work)
    try:
        scenario = work / "memory.yaml"
        scenario.write_text(SCENARIO.format(url=url, seconds=int(args.minutes * 60), rate=args.rate,
                                            rows=write_rows(work)))
        command = [sys.executable, "-m", "harness", "run", str(scenario), "--out", str(work / "out")]
        if args.procs > 1:
            command += ["--procs", str(args.procs)]
        with (work / "run.log").open("wb") as log:
            process = psutil.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            times, rss = sample_rss(process)
    finally:
        nginx.terminate()
    if process.returncode == USAGE_ERROR:  # a run that never sent its load measures nothing
        raise SystemExit(f"slogate run refused the scenario:\n{(work / 'run.log').read_text()[-2000:]}")
    times_s, rss_mib = np.asarray(times), np.asarray(rss)
    # the middle of the load: start-up before it, and the analysis after it, are not growth per record
    load_s = args.minutes * 60
    during = (times_s >= 0.1 * load_s) & (times_s <= 0.9 * load_s)
    slope = slope_estimate(times_s[during] * args.rate / 1e6, rss_mib[during], 0.95)
    print(f"{args.rate} req/s for {args.minutes:g} min, --procs {args.procs}: {len(rss)} samples, "
          f"RSS {rss[0]:.0f} -> {max(rss):.0f} MiB (peak, analysis included)")
    print(f"growth over 10-90% of the load: {slope.value:.0f} MiB per million records [{slope.lo:.0f}, {slope.hi:.0f}] ({slope.method})")
    print(f"run log and report under {work}")


if __name__ == "__main__":
    main()
