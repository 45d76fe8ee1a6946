"""A base commit checked out beside this tree, for benchmarks that compare the two."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.processes import ROOT


@contextmanager
def base_worktree(ref: str, tree: Path) -> Iterator[Path]:
    """`ref` checked out (detached) at `tree` for the block, and removed after it whatever happens."""
    done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"cannot check out {ref!r}: {done.stderr.strip()}")
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
