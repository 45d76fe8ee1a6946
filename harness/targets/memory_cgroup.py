"""A memory limit for a managed server: a cgroup of its own whose overrun the kernel answers
with its OOM killer, as a container's limit is answered in production.

cgroup v2's `memory.max` where this process may create a child group, else cgroup v1's
`memory.limit_in_bytes` (cgroups.py finds the group). RLIMIT_AS is no substitute: it turns
an overrun into a failed allocation the server survives, not a kill.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from harness.targets.cgroups import Cgroup


class MemoryCgroup(Cgroup):
    @classmethod
    def limited(cls, name: str, limit_bytes: int, proc_cgroup: str | None = None) -> MemoryCgroup:
        def settings(version: int, parent: Path) -> dict[str, str]:
            return {"memory.max" if version == 2 else "memory.limit_in_bytes": str(limit_bytes)}

        return cls.make("memory", name, settings, proc_cgroup)

    def oom_kills(self) -> int:
        """Processes the kernel's OOM killer ended inside the group so far."""
        events = "memory.events" if self.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            found = re.search(r"^oom_kill (\d+)$", (self.path / events).read_text(), re.MULTILINE)
            return int(found.group(1)) if found else 0
        return 0
