"""CPU isolation for processes slogate starts: a cgroup of their own with a CFS quota (a
container's CPU limit, Kubernetes' `limits.cpu`) and/or a weight (its share when the CPUs
are contended, Kubernetes' `requests.cpu`).

cgroup v2: `cpu.max` ("QUOTA PERIOD") and `cpu.weight` (1..10000, 100 the default); v1:
`cpu.cfs_quota_us` over `cpu.cfs_period_us`, and `cpu.shares`, the weight × 1024 / 100 as
systemd maps CPUWeight to CPUShares. cgroups.py finds where the group may go.
"""

from __future__ import annotations

from pathlib import Path

from harness.targets.cgroups import Cgroup, Settings

PERIOD_US = 100_000  # the kernel's default CFS period, and Kubernetes'
MIN_SHARES = 2  # the kernel's floor for cpu.shares


def cpu_cgroup(name: str, limit: float | None = None, weight: int | None = None,
               proc_cgroup: str | None = None) -> Cgroup:
    """A group whose processes get at most `limit` cores and, when contended, `weight` / 100 of a default share."""
    return Cgroup.make("cpu", name, cpu_settings(limit, weight), proc_cgroup)


def cpu_settings(limit: float | None, weight: int | None) -> Settings:
    def settings(version: int, parent: Path) -> dict[str, str]:
        files = {}
        if limit is not None:
            quota = str(round(limit * PERIOD_US))
            files |= ({"cpu.max": f"{quota} {PERIOD_US}"} if version == 2
                      else {"cpu.cfs_period_us": str(PERIOD_US), "cpu.cfs_quota_us": quota})
        if weight is not None:
            files |= ({"cpu.weight": str(weight)} if version == 2
                      else {"cpu.shares": str(max(MIN_SHARES, weight * 1024 // 100))})
        return files

    return settings
