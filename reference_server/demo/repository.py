"""The embedded demo repository, built on first use into the cache directory (≤ 30 s).

Every registered demo model (registry.py; the built-ins are listed in catalog.py) writes
its versions into a staging directory that replaces the repository when all are built.
The build is reused until BUILDER_VERSION or a demo model's builder version changes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .registry import DEMO_MODELS

log = logging.getLogger("reference_server")

BUILDER_VERSION = "4"  # of the layout written here; bump it to rebuild every cached repository
STAMP_FILE = ".builder.json"
DEMO_DIR = "demo-repo"


def demo_repo_path(cache_dir: Path) -> Path:
    return cache_dir / DEMO_DIR


def ensure_demo_repo(cache_dir: Path) -> Path:
    """The demo repository under `cache_dir`, built unless an up-to-date one is there."""
    repo = demo_repo_path(cache_dir)
    stamp = _stamp()
    if _read_stamp(repo) == stamp:
        return repo
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{DEMO_DIR}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent servers/tests build once
        if _read_stamp(repo) != stamp:
            _build(repo, stamp)
    return repo


def _stamp() -> dict[str, Any]:
    return {"builder": BUILDER_VERSION, "models": {e.name: e.value.builder_version for e in DEMO_MODELS.entries()}}


def _read_stamp(repo: Path) -> dict[str, Any] | None:
    try:
        return json.loads((repo / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None


def _build(repo: Path, stamp: dict[str, Any]) -> None:
    started = time.perf_counter()
    log.info("building the demo model repository in %s (first use)", repo)
    staging = repo.with_name(f"{repo.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for entry in DEMO_MODELS.entries():
        entry.value.build(staging)
    (staging / STAMP_FILE).write_text(json.dumps(stamp))
    shutil.rmtree(repo, ignore_errors=True)
    staging.rename(repo)
    log.info("demo repository built in %.1f s", time.perf_counter() - started)
