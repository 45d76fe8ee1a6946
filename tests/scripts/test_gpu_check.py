"""scripts/gpu_check.sh cannot rot while no GPU is lent: its dry run runs here, every step up
to the first CUDA call, on the wheels scripts/gpu_wheels.sh downloads for the GPU image."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("environment", "packages", "gpu-tests", "fraud-ladder", "tiny-llm", "summary")

pytestmark = pytest.mark.integration


def test_the_wheels_download_and_the_dry_run_passes_every_step(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    wheels = subprocess.run(["bash", "scripts/gpu_wheels.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert wheels.returncode == 0, wheels.stderr[-2000:]
    assert re.search(r"gpu wheels: \d+ files, \d+ MiB", wheels.stdout)
    check = subprocess.run(["bash", "scripts/gpu_check.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=300)
    steps = (tmp_path / "steps.txt").read_text()
    assert check.returncode == 0, steps + check.stdout[-2000:]
    assert [line.split()[:2] for line in steps.splitlines()] == [[name, "rc=0"] for name in STEPS]
    requirements = [line for line in (ROOT / "scripts/gpu_requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    would = (tmp_path / "packages.log").read_text()
    assert len(re.search(r"Would install (.*)", would).group(1).split()) == len(requirements)
    junit = (tmp_path / "junit-gpu.xml").read_text()
    assert 'tests="5"' in junit  # the gpu tests collect, and on a CPU they skip
    assert "| cpu | 200 |" in (tmp_path / "gpu_results.md").read_text()


def test_a_gpu_tagged_scenario_is_skipped_without_cuda(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "gpu.yaml").write_text((ROOT / "scenarios/gpu_fraud.yaml").read_text())
    done = subprocess.run([sys.executable, "-m", "pytest", str(scenarios), "-p", "no:cacheprovider", "-rs",
                           "--rootdir", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    if torch.cuda.is_available():
        assert "tagged gpu" not in done.stdout
    else:
        assert done.returncode == 0 and "3 skipped" in done.stdout, done.stdout[-2000:]
        assert "tagged gpu and torch sees no CUDA device" in done.stdout
