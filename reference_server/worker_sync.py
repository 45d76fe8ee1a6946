"""`--workers N`: every admin change applied in every worker process, in one order, before the
admin call that made it returns.

The mechanism is a journal: an append-only SQLite table of changes (admin_changes.py) in the
directory the supervisor makes for its workers (workers_dir.py). Why SQLite: uvicorn's supervisor spawns the
workers and offers no channel between them, and a change must also reach a worker that comes
up later (one still loading at start-up, or one uvicorn restarts after a crash). An
append-only table gives one total order (SQLite serialises the appends), replay from the
start for a late worker, and needs nothing running beside the workers; the standard library
has it. A state snapshot file was rejected because reload and drift reset are events, not
state; shared memory because changes vary in size and a late worker needs the history; a pipe
from the supervisor because uvicorn's supervisor is not ours to extend.

Each worker reads the journal every POLL_S, applies what is new in order, and records the
last change it applied. The worker that took the admin call appends the change, applies it
itself through the same path (so concurrent changes made through different workers apply in
the journal's order everywhere), then waits until every other live worker has applied it,
for at most PEER_WAIT_S. Changes apply one at a time: a load or an unload waiting for its
requests to drain holds the changes made after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .admin_changes import Change, apply_in_order
from .workers_dir import connect_journal

if TYPE_CHECKING:
    from .state import ServerState

log = logging.getLogger("reference_server")
POLL_S = 0.02  # how often a worker looks for changes made through the others
PEER_WAIT_S = 120.0  # an admin call waits this long at most for the other workers (an LLM load takes ~30 s)


class WorkerSync:
    """This worker's end of the journal: `submit` for the admin API, `start` once the models are up."""

    def __init__(self, state: ServerState, directory: Path) -> None:
        self.state = state
        self._db = connect_journal(directory)
        self._pid = os.getpid()
        self._applied = 0  # the last journal entry applied here
        self._waiting: dict[int, asyncio.Future[Any]] = {}  # admin calls taken here, by journal entry
        self._wake = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None

    async def submit(self, change: Change) -> Any:
        seq = self._db.execute("INSERT INTO changes (origin, change) VALUES (?, ?)",
                               (self._pid, json.dumps(change))).lastrowid
        assert seq is not None
        outcome = self._waiting[seq] = asyncio.get_running_loop().create_future()
        self._wake.set()
        # Applied here by the follower, in journal order; before start-up has loaded the models,
        # by `start`'s replay, so a call made to a worker still loading waits for it.
        result = await outcome
        await self._peers_caught_up(seq)
        return result

    async def start(self) -> None:
        """After the start-up load: replay the journal, then take part (the admin calls made
        through other workers wait for this one from here on) and follow it."""
        await self._catch_up()
        self._db.execute("INSERT OR REPLACE INTO applied (pid, seq) VALUES (?, ?)", (self._pid, self._applied))
        self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
        self._db.execute("DELETE FROM applied WHERE pid = ?", (self._pid,))
        self._db.close()

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()
            try:
                if await self._catch_up():
                    self._db.execute("UPDATE applied SET seq = ? WHERE pid = ?", (self._applied, self._pid))
            except sqlite3.Error:
                log.exception("admin changes journal: read or write failed; retrying")

    async def _catch_up(self) -> bool:
        """Apply the journal's new entries; whether there were any."""
        rows = self._db.execute("SELECT seq, origin, change FROM changes WHERE seq > ? ORDER BY seq",
                                (self._applied,)).fetchall()
        for seq, origin, text in rows:
            await self._apply(seq, json.loads(text), origin == self._pid)
        return bool(rows)

    async def _apply(self, seq: int, change: Change, origin: bool) -> None:
        waiter = self._waiting.pop(seq, None)  # registered by `submit` before its append returned
        await apply_in_order(self.state, change, waiter if origin else None, "worker")
        self._applied = seq

    async def _peers_caught_up(self, seq: int) -> None:
        deadline = time.monotonic() + PEER_WAIT_S
        while behind := self._peers_behind(seq):
            if time.monotonic() > deadline:
                log.warning("admin change %d: workers %s have not applied it after %.0f s; answering anyway",
                            seq, behind, PEER_WAIT_S)
                return
            await asyncio.sleep(POLL_S / 2)

    def _peers_behind(self, seq: int) -> list[int]:
        rows = self._db.execute("SELECT pid, seq FROM applied WHERE pid != ? AND seq < ?", (self._pid, seq)).fetchall()
        behind = []
        for pid, _ in rows:
            if _alive(pid):
                behind.append(pid)
            else:  # died without closing (uvicorn starts another, which replays the journal)
                self._db.execute("DELETE FROM applied WHERE pid = ?", (pid,))
        return behind


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
