"""Shared inputs of the micro-benchmarks, and the provenance every saved run carries."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import harness
from .inputs import AnalysisInputs, analysis_inputs

MILLION = 1_000_000


def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:
    """Which source tree was measured: the compare script refuses a run of the wrong one."""
    tree = Path(harness.__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    machine_info["slogate_source_tree"] = str(tree)
    machine_info["slogate_commit"] = commit + ("+dirty" if dirty else "")


@pytest.fixture(scope="session")
def million() -> AnalysisInputs:
    """B6's input: a 1,000-second run at 1,000 req/s in four phases, 0.05% failed, nine SLOs."""
    return analysis_inputs(MILLION)


@pytest.fixture
def loop():
    """uvloop, as the generator and the server run on."""
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    yield loop
    loop.close()
