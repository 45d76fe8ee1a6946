"""`--workers N`: one replay check for HMAC-signed requests across every worker process.

Each worker kept its own nonces, so a signed request replayed to another worker (the kernel
hands connections to any of them) was accepted once per worker. The nonces now live in a table
of the journal's SQLite file (workers_dir.py), which every worker opens: SQLite serialises the
inserts, so exactly one worker accepts a nonce. CLOCK_MONOTONIC is one clock for every process
on Linux, so an expiry written by one worker reads the same in the others.

The insert runs on the event loop: with WAL and synchronous=OFF it is an append of tens of
microseconds, cheaper than a hop to a thread; signed traffic pays it, unsigned traffic never.
"""

from __future__ import annotations

import time
from pathlib import Path

from .auth import WINDOW_S
from .workers_dir import connect_journal

PURGE_EVERY_S = 10.0  # expired nonces are dropped at most this often, so the table stays bounded by the window's traffic
# A nonce whose last use has expired is accepted again (its row is renewed), so a stale row never
# refuses a legitimate request between purges.
CLAIM = ("INSERT INTO nonces (nonce, expires) VALUES (?, ?) "
         "ON CONFLICT (nonce) DO UPDATE SET expires = excluded.expires WHERE nonces.expires < ?")


class SharedNonces:
    """The NonceStore (auth.py) of a worker: a nonce is accepted by at most one worker."""

    def __init__(self, directory: Path) -> None:
        self._db = connect_journal(directory)
        self._next_purge = time.monotonic() + PURGE_EVERY_S

    def check_and_add(self, nonce: str, now: float) -> bool:
        if now >= self._next_purge:
            self._db.execute("DELETE FROM nonces WHERE expires < ?", (now,))
            self._next_purge = now + PURGE_EVERY_S
        return self._db.execute(CLAIM, (nonce, now + 2 * WINDOW_S, now)).rowcount == 1
