"""The directory the `--workers N` supervisor makes for its worker processes: how they find it,
the admin changes journal in it (worker_sync.py), the HMAC nonces every worker checks
(worker_nonces.py) and the metrics sockets (worker_metrics.py).

Apart from those two modules so that the supervisor, which serves nothing, imports none of the
server (its imports take seconds, before the workers can start theirs).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

SHARED_DIR_ENV = "SLOGATE_WORKERS_DIR"
JOURNAL = "admin-changes.sqlite"
SOCKETS = "metrics"  # one <pid>.sock per worker
SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, origin INTEGER, change TEXT);
CREATE TABLE IF NOT EXISTS applied (pid INTEGER PRIMARY KEY, seq INTEGER);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires REAL);
"""


def create_journal(directory: Path) -> None:
    """Made before the workers are spawned, so none races another to create it."""
    with contextlib.closing(connect_journal(directory)) as db:
        db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer, nor it for them
        db.executescript(SCHEMA)


def connect_journal(directory: Path) -> sqlite3.Connection:
    db = sqlite3.connect(directory / JOURNAL, timeout=5.0, isolation_level=None)  # autocommit: one commit a statement
    db.execute("PRAGMA synchronous=OFF")  # the journal lives as long as the server: no need to survive a power cut
    return db
