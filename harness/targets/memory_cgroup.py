"""A memory limit for a managed server: a cgroup of its own whose overrun the kernel answers
with its OOM killer, as a container's limit is answered in production.

cgroup v2 (`memory.max`, under the unified hierarchy) is used where this process may create
a child group, else cgroup v1's memory controller (`memory.limit_in_bytes`). The group is
made inside this process's own group, so any limit above it still applies. RLIMIT_AS is no
substitute: it turns an overrun into a failed allocation the server survives, not a kill.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class CgroupError(RuntimeError):
    """No writable memory cgroup here: the limit cannot be applied."""


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    version: int  # 2: memory.max; 1: memory.limit_in_bytes

    @classmethod
    def create(cls, name: str, limit_bytes: int, proc_cgroup: str | None = None) -> MemoryCgroup:
        text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
        errors = []
        for version, parent, limit_file in _candidates(text):
            group = parent / name
            try:
                group.mkdir(exist_ok=True)
                (group / limit_file).write_text(str(limit_bytes))
            except OSError as exc:
                errors.append(f"{group}: {exc.strerror or exc}")
                with contextlib.suppress(OSError):
                    group.rmdir()
                continue
            return cls(group, version)
        raise CgroupError("no writable memory cgroup (" + "; ".join(errors or ["no memory controller"]) + ")")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer ended inside the group so far."""
        events = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            found = re.search(r"^oom_kill (\d+)$", (self.path / events).read_text(), re.M)
            return int(found.group(1)) if found else 0
        return 0

    def remove(self) -> None:
        """Once its processes are gone (a group still holding one cannot be removed: left as is)."""
        with contextlib.suppress(OSError):
            self.path.rmdir()


def _candidates(proc_cgroup: str) -> list[tuple[int, Path, str]]:
    """Where a child memory group may go: this process's own v2 group, then its v1 memory group."""
    found = []
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "" and _has_v2_memory(CGROUP_ROOT / relative):
            found.insert(0, (2, CGROUP_ROOT / relative, "memory.max"))
        elif "memory" in controllers.split(","):
            found.append((1, CGROUP_ROOT / "memory" / relative, "memory.limit_in_bytes"))
    return found


def _has_v2_memory(group: Path) -> bool:
    with contextlib.suppress(OSError):
        return "memory" in (group / "cgroup.controllers").read_text().split()
    return False
