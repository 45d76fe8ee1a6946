"""The OOM game day: the kernel's OOM killer really ends the server under its memory limit,
and without the supervisor (the mitigation) the service never comes back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.targets.memory_cgroup import CgroupError, MemoryCgroup

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "chaos_oom.yaml"
pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def test_without_its_supervisor_the_killed_server_fails_the_gate(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(SCENARIO), "--out", str(tmp_path),
                           "--set", "target.restart=never"], capture_output=True, text=True, timeout=240)
    summary = json.loads(next(tmp_path.glob("*/*/summary.json")).read_text())
    verdicts = {(row["expr"], row["window"]): row["verdict"] for row in summary["slos"]}
    assert verdicts[("restart_time < 20s", "run")] == "fail"
    assert verdicts[("recovery_time < 10s", "run")] == "fail"
    first = summary["chaos"]["faults"][0]
    assert first["end_s"] is None and first["failed_during"]["total"] > 500  # ~30 s at 60 req/s, all lost
    assert "fault injection failed" not in " ".join(summary["load"]["invalid_reasons"])
    assert done.returncode == 1, done.stderr[-2000:]


def test_a_cgroup_is_found_from_this_process_own_groups(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("harness.targets.memory_cgroup.CGROUP_ROOT", tmp_path)
    (tmp_path / "memory" / "job").mkdir(parents=True)
    group = MemoryCgroup.create("slogate-test", 1 << 20, proc_cgroup="4:memory:/job\n0::/\n")
    assert (group.version, group.path) == (1, tmp_path / "memory" / "job" / "slogate-test")
    assert (group.path / "memory.limit_in_bytes").read_text() == str(1 << 20)
    (group.path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.oom_kills() == 2
    with pytest.raises(CgroupError, match="no memory controller"):
        MemoryCgroup.create("x", 1, proc_cgroup="1:cpu:/\n")
