"""A cgroup of slogate's own for one controller, made inside this process's own group so that
any limit above it still applies: what a container runtime does for a container.

cgroup v2 (the unified hierarchy) is used where this process's group offers the controller
and a child group may be made and written, else that controller's cgroup v1 hierarchy.
Where neither can be written, `CgroupError` says why, for the caller to stop before any load.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

CGROUP_ROOT = Path("/sys/fs/cgroup")

Settings = Callable[[int, Path], dict[str, str]]  # (version, parent group) → {file: value} for the new group


class CgroupError(RuntimeError):
    """No writable cgroup of the controller here: the setting cannot be applied."""


@dataclass(frozen=True)
class Cgroup:
    path: Path
    version: int  # 2: the unified hierarchy; 1: the controller's own

    @classmethod
    def make(cls, controller: str, name: str, settings: Settings, proc_cgroup: str | None = None) -> Self:
        text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
        errors = []
        for version, parent in candidates(controller, text):
            group = parent / name
            try:
                group.mkdir(exist_ok=True)
                for file, value in settings(version, parent).items():
                    (group / file).write_text(value)
            except OSError as exc:
                errors.append(f"{group}: {exc.strerror or exc}")
                with contextlib.suppress(OSError):
                    group.rmdir()
                continue
            return cls(group, version)
        raise CgroupError(f"no writable {controller} cgroup (" + "; ".join(errors or [f"no {controller} controller"]) + ")")

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self, within_s: float = 0.0) -> None:
        """Once its processes are gone, waiting up to `within_s` for them to leave (a group
        still holding one cannot be removed: left as is)."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                return self.path.rmdir()
            except FileNotFoundError:
                return None
            except OSError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.01)


def candidates(controller: str, proc_cgroup: str) -> list[tuple[int, Path]]:
    """Where a child group of the controller may go: this process's own v2 group, then its v1 group."""
    found = []
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "" and _offers(CGROUP_ROOT / relative, controller):
            found.insert(0, (2, CGROUP_ROOT / relative))
        elif controller in controllers.split(","):
            found.append((1, CGROUP_ROOT / controller / relative))
    return found


def _offers(group: Path, controller: str) -> bool:
    with contextlib.suppress(OSError):
        return controller in (group / "cgroup.controllers").read_text().split()
    return False
