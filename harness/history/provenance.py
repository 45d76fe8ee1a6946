"""Where a run ran: the machine, the git commit of the working tree, slogate's version.

Each is read where the run was made (history is written by the process that ran it) and is
None where it cannot be known: a tree that is no git checkout, a machine without NVML.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.telemetry.gpu import device_names

GIT_TIMEOUT_S = 5.0


def machine() -> dict[str, Any]:
    return {"host": platform.node(), "cores": os.cpu_count(), "cpu_model": cpu_model(), "gpus": device_names(),
            "platform": platform.platform()}


def cpu_model() -> str:
    """The CPU's marketing name. Linux says it in /proc/cpuinfo (platform.processor() gives
    only the architecture there); elsewhere platform's answer is the best there is."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state(directory: Path) -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files differ from it) of the checkout `directory` is
    in, or (None, None) outside one."""
    commit = _git(directory, "rev-parse", "HEAD")
    if commit is None:
        return None, None
    changes = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return commit, None if changes is None else bool(changes)


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def harness_version() -> str | None:
    try:
        return metadata.version("slogate")
    except metadata.PackageNotFoundError:
        return None  # run from a source tree that was never installed


def scenario_hash(path: Path, overrides: Sequence[str] = ()) -> str:
    """SHA-256 of the scenario file's bytes and the `--set` overrides applied to it: two runs
    with equal hashes ran the same experiment."""
    digest = hashlib.sha256(path.read_bytes())
    for override in overrides:
        digest.update(b"\0" + override.encode())
    return digest.hexdigest()
