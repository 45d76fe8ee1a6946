"""Where slogate makes a cgroup and what it writes there. A fake /sys/fs/cgroup under
tmp_path stands in for the kernel's, so each layout can be tried on any machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.targets.cgroups import CgroupError
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


def test_no_controller_is_an_error_that_names_it(root: Path) -> None:
    with pytest.raises(CgroupError, match="no writable memory cgroup"):
        MemoryCgroup.limited("x", 1, proc_cgroup="1:cpu:/\n")
