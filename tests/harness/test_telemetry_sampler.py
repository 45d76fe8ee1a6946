"""The telemetry child: it outlives no run (killed outright, a run's sampler stops by itself), and it keeps the drift gauges per label set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from harness.telemetry.labelled import labelled_column, parse_labelled_column
from harness.telemetry.sampler import summed_samples

# A stand-in for `slogate run`: starts the sampler as its child, prints its PID, then waits
# to be killed, as a run killed by SIGKILL or an unhandled SIGTERM would be.
RUN = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-m", "harness.telemetry.sampler", "-", "0", "0.1", sys.argv[1]])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_sampler_whose_run_is_killed_stops(tmp_path: Path) -> None:
    out = tmp_path / "telemetry.jsonl"
    run = subprocess.Popen([sys.executable, "-c", RUN, str(out)], stdout=subprocess.PIPE, text=True)
    sampler = psutil.Process(int(run.stdout.readline()))
    deadline = time.monotonic() + 20
    while not (out.exists() and out.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.read_text().count("\n") >= 2, "the sampler never sampled"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    try:
        sampler.wait(timeout=10)
    except psutil.TimeoutExpired:
        sampler.kill()
        raise AssertionError("the sampler outlived its run") from None


def test_drift_gauges_are_kept_per_label_set_as_well_as_summed() -> None:
    text = "\n".join([
        "# TYPE slogate_feature_drift gauge",
        'slogate_feature_drift{model="fraud",version="2",feature="amount",method="wasserstein_norm"} 0.25',
        'slogate_feature_drift{model="fraud",version="2",feature="hour",method="wasserstein_norm"} 0.5',
        "# TYPE slogate_requests_total counter",
        'slogate_requests_total{model="fraud",version="2"} 7',
        'slogate_requests_total{model="fraud",version="3"} 3',
    ]) + "\n"
    samples = summed_samples(text)
    column = labelled_column("slogate_feature_drift", {"model": "fraud", "version": "2", "feature": "amount",
                                                       "method": "wasserstein_norm"})
    assert samples[column] == 0.25 and samples["slogate_feature_drift"] == 0.75
    assert samples["slogate_requests_total"] == 10 and not any("slogate_requests_total{" in k for k in samples)
    assert parse_labelled_column(column) == ("slogate_feature_drift", {"feature": "amount", "method": "wasserstein_norm",
                                                                       "model": "fraud", "version": "2"})
    assert parse_labelled_column("cpu_percent") is None
