"""The long-run memory script still runs: a few seconds of its own scenario against nginx.

It is run by hand for 30 minutes (RELIABILITY.md); this keeps it from rotting between runs,
as it once did (its scenario could not run, and it printed a fit of nothing).
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.processes import ROOT


def test_the_memory_script_sends_its_load_and_fits_the_growth() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.harness_memory", "--rate", "500", "--minutes", "0.15"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "500 req/s for 0.15 min" in done.stdout and "MiB per million records" in done.stdout
