"""The telemetry child outlives no run: killed outright, a run's sampler stops by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

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
