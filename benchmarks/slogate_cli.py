"""slogate itself as the benchmark suite's load tool: one `slogate run` per measurement.

The benchmarks drive targets through the real CLI, in a child process, so what they measure
is what a user's `slogate run` measures, and its CPU never counts against the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.processes import ROOT


@dataclass
class SlogateRun:
    summary: dict
    run_dir: Path

    def records(self):
        import pandas as pd

        return pd.read_parquet(self.run_dir / "requests.parquet")


def run_slogate(name: str, scenario: str, url: str, work: Path, timeout_s: float = 600) -> SlogateRun:
    """Write `scenario` (YAML text) as `name`.yaml and run it against `url`, whatever the verdict."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{name}.yaml"
    path.write_text(scenario)
    return run_scenario_file(name, path, work, "--target-url", url, timeout_s=timeout_s)


def run_scenario_file(name: str, path: Path, work: Path, *options: str, timeout_s: float = 600) -> SlogateRun:
    """`slogate run path --out work/name *options` (a managed target unless options name a URL)."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / name
    with (work / f"{name}.log").open("wb") as log:
        subprocess.run([sys.executable, "-m", "harness", "run", str(path), *options, "--out", str(out)],
                       cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
    summaries = sorted(out.rglob("summary.json"))
    if not summaries:
        raise RuntimeError(f"slogate wrote no summary for {name}; see {work / f'{name}.log'}")
    return SlogateRun(json.loads(summaries[-1].read_text()), summaries[-1].parent)


FIXED_RATE = """\
name: {name}
seed: {seed}
target: {{url: http://placeholder, request_timeout: 2s, {target}}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {{process: poisson, rate: {rate}}}}}
  warmup: 1s
  payload: {{generator: tabular, rows: 1}}
slos:
{slos}
analysis:
  max_lag_p99: 5ms   # the generator shares the cores with the server; lag still counts in latency
"""


def fixed_rate_scenario(name: str, seed: int, target: str, seconds: float, rate: float, slos: list[str]) -> str:
    """A step at one Poisson rate of one-row tabular requests, 1 s of it warm-up; `target` is
    the rest of the target mapping's flow-style items (`model: sim, protocol: oip-v2`)."""
    return FIXED_RATE.format(name=name, seed=seed, target=target, seconds=seconds, rate=rate,
                             slos="\n".join(f"  - {slo}" for slo in slos))


def ms(value: float | None) -> str:
    """A latency read from a summary, for a log line: a saturated run's tail quantile can be unknown
    (too many requests censored by the run's end to place it)."""
    return "—" if value is None else f"{value:.2f}"
