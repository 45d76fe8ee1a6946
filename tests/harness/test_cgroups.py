"""Where slogate makes a cgroup and what it writes there: cgroup v2 in this process's own group
where it offers the controller, else the controller's v1 hierarchy; a memory limit and a CPU
quota and weight in each version's files. A fake /sys/fs/cgroup under tmp_path stands in for
the kernel's, so each layout can be tried on any machine; the last test uses the real one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from harness.entry.cli import main as slogate
from harness.experiments.faults.actions import CpuHogFault, FaultError
from harness.targets.cgroups import CgroupError
from harness.targets.cpu_cgroup import cpu_cgroup
from harness.targets.memory_cgroup import MemoryCgroup

HYBRID = "4:memory:/job\n2:cpu,cpuacct:/job\n0::/job\n"  # v1 controllers, an empty v2 hierarchy


@pytest.fixture
def root(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr("harness.targets.cgroups.CGROUP_ROOT", tmp_path)
    return tmp_path


def test_a_memory_cgroup_is_made_in_this_process_own_group(root: Path) -> None:
    (root / "memory" / "job").mkdir(parents=True)
    group = MemoryCgroup.limited("slogate-test", 1 << 20, proc_cgroup=HYBRID)
    assert (group.version, group.path) == (1, root / "memory" / "job" / "slogate-test")
    assert (group.path / "memory.limit_in_bytes").read_text() == str(1 << 20)
    (group.path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.oom_kills() == 2


def test_a_v1_cpu_group_gets_a_cfs_quota_and_shares(root: Path) -> None:
    (root / "cpu" / "job").mkdir(parents=True)
    group = cpu_cgroup("hog", limit=0.5, weight=10, proc_cgroup=HYBRID)
    assert (group.version, group.path) == (1, root / "cpu" / "job" / "hog")
    assert [(group.path / name).read_text() for name in ("cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares")] \
        == ["100000", "50000", "102"]  # a weight of 10 is a tenth of the default 1024 shares


def test_v2_is_preferred_where_this_process_group_offers_the_controller(root: Path) -> None:
    (root / "cpu" / "job").mkdir(parents=True)
    (root / "job").mkdir()
    (root / "job" / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    group = cpu_cgroup("hog", limit=1.5, weight=1, proc_cgroup=HYBRID)
    assert (group.version, group.path) == (2, root / "job" / "hog")
    assert (group.path / "cpu.max").read_text() == "150000 100000"
    assert (group.path / "cpu.weight").read_text() == "1"


def test_an_unwritable_v2_group_falls_back_to_v1_and_leaves_nothing(root: Path) -> None:
    (root / "cpu" / "job").mkdir(parents=True)
    (root / "job").mkdir()
    (root / "job" / "cgroup.controllers").write_text("cpu\n")
    (root / "job" / "hog").write_text("")  # where the v2 group would go: mkdir fails
    group = cpu_cgroup("hog", weight=50, proc_cgroup=HYBRID)
    assert group.version == 1 and (group.path / "cpu.shares").read_text() == "512"
    assert not (group.path / "cpu.cfs_quota_us").exists()  # no limit asked: none written


def test_no_controller_is_an_error_that_names_it(root: Path) -> None:
    with pytest.raises(CgroupError, match=r"no writable cpu cgroup \(no cpu controller\)"):
        cpu_cgroup("hog", limit=1, proc_cgroup="4:memory:/job\n")
    with pytest.raises(CgroupError, match="no writable memory cgroup"):
        MemoryCgroup.limited("x", 1, proc_cgroup="1:cpu:/\n")


def test_a_hog_confined_where_no_cpu_cgroup_is_writable_stops_the_run_before_any_load(
        root: Path, sim_repo: Path, tmp_path: Path, make_scenario, capsys) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="unconfinable",
                         faults=[{"action": "cpu_hog", "at": "1s", "for": "1s", "limit": 0.5}])
    assert slogate(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "faults[0] (cpu_hog): no writable cpu cgroup" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*/*/requests.parquet"))


def test_every_loop_of_a_confined_hog_runs_in_its_group_and_the_group_goes_with_them() -> None:
    hog = CpuHogFault(action="cpu_hog", at=0, cores=3, weight=1)
    try:
        hog.preflight()
    except FaultError as exc:
        pytest.skip(f"no writable CPU cgroup on this machine: {exc}")

    async def run() -> tuple[list[str], bool]:
        launcher, group = await hog.start(session=None)
        await asyncio.sleep(0.3)  # the launcher forks its two siblings
        loops = (group.path / "cgroup.procs").read_text().split()
        await hog.end(None, (launcher, group))
        return loops, group.path.exists()

    loops, left = asyncio.run(run())
    assert len(loops) == 3 and not left
