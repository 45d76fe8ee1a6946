"""Files a run leaves behind appear whole or not at all.

A write cut short (a full disk, EFBIG past a file-size limit, Ctrl-C) must not leave a
truncated requests.parquet or summary.json that later reads take for the run's data: each is
written beside its final name and renamed over it, which POSIX makes atomic.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write; on success it becomes `path`, on failure it is removed."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
