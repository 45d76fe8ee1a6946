"""The control actor: the one place Ray Serve replicas share state through.

Serve routes each request to one replica, so an admin call or a /metrics scrape would reach
only the replica that answers. This actor, started by the engine before the deployment,
holds three things for every replica:

- the admin log: each admin change (admin_changes.py), in the order it was made. Every
  replica applies the whole log in that order (broadcast.py), so the traffic split, faults,
  loads and resets are the same in all of them, fault ids included; a replica that Serve
  starts later (a replacement, an upscale) replays it before it serves;
- the scrape round: /metrics on any replica asks here for every live replica's exposition,
  which each replica's listener answers (broadcast.py), then merges them (exposition.py);
- the roster: each replica's id and process id, for `GET /admin/replicas` and for the
  harness's `kill_replica` chaos action.

Replicas long-poll (`changes_since`, `scrape_wanted`) rather than being called, because Serve
gives no handle to one particular replica. A replica that stops polling (killed) leaves the
roster once it misses a scrape round or its polls stop for STALE_S.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

NAME = "slogate-control"
NAMESPACE = "slogate"
POLL_S = 2.0  # a long poll's longest wait: also how often an idle replica says it is alive
STALE_S = 3 * POLL_S  # a replica silent this long has gone


@dataclass
class Entry:
    """One admin change in the log."""

    seq: int
    origin: str  # the replica that took the call: it answers with what applying it gave
    change: dict[str, Any]  # admin_changes.Change: plain JSON


@dataclass
class Member:
    replica: str
    pid: int
    node: str
    joined: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.monotonic)
    missed: bool = False  # silent through a scrape round since it last polled: likely gone


class Control:
    """The actor's class (engine.py wraps it in `ray.remote`); an async actor, so every method
    runs on one event loop and needs no lock."""

    def __init__(self) -> None:
        self.log: list[Entry] = []
        self.members: dict[str, Member] = {}
        self._logged = asyncio.Condition()
        self._round = 0  # the scrape round asked for last
        self._asked = asyncio.Condition()
        self._answers: dict[int, dict[str, str]] = {}
        self._answered = asyncio.Condition()

    # --- the admin log ---------------------------------------------------------------------

    async def append(self, origin: str, change: dict[str, Any]) -> int:
        entry = Entry(len(self.log) + 1, origin, change)
        self.log.append(entry)
        async with self._logged:
            self._logged.notify_all()
        return entry.seq

    async def changes_since(self, replica: str, seq: int) -> list[dict[str, Any]]:
        """The entries after `seq`, waiting up to POLL_S for one; an empty list is a heartbeat."""
        self._saw(replica)
        async with self._logged:
            try:
                await asyncio.wait_for(self._logged.wait_for(lambda: len(self.log) > seq), POLL_S)
            except TimeoutError:
                pass
        self._saw(replica)
        return [asdict(entry) for entry in self.log[seq:]]

    def head(self) -> int:
        return len(self.log)

    # --- the roster ------------------------------------------------------------------------

    def join(self, replica: str, pid: int, node: str) -> None:
        self.members[replica] = Member(replica, pid, node)

    def roster(self) -> list[dict[str, Any]]:
        return [{"replica": m.replica, "pid": m.pid, "node": m.node, "joined": m.joined} for m in self._live()]

    def _live(self) -> list[Member]:
        now = time.monotonic()
        return sorted((m for m in self.members.values() if not m.missed and now - m.seen <= STALE_S),
                      key=lambda m: m.joined)

    def _saw(self, replica: str) -> None:
        member = self.members.get(replica)
        if member is not None:
            member.seen, member.missed = time.monotonic(), False

    # --- the scrape round ------------------------------------------------------------------

    async def scrape(self, timeout_s: float) -> dict[str, str]:
        """Every live replica's exposition, by replica id: those that answer within `timeout_s`.
        One that does not answer (killed mid-round) leaves the roster until it polls again."""
        self._round += 1
        wanted, expected = self._round, {m.replica for m in self._live()}
        self._answers[wanted] = {}
        async with self._asked:
            self._asked.notify_all()
        async with self._answered:
            try:
                await asyncio.wait_for(self._answered.wait_for(lambda: expected <= set(self._answers[wanted])),
                                       timeout_s)
            except TimeoutError:
                for silent in expected - set(self._answers[wanted]):
                    self.members[silent].missed = True
        return self._answers.pop(wanted)

    async def scrape_wanted(self, replica: str, answered: int) -> int:
        """The newest round after `answered` (waiting up to POLL_S for one); `answered` when none."""
        self._saw(replica)
        async with self._asked:
            try:
                await asyncio.wait_for(self._asked.wait_for(lambda: self._round > answered), POLL_S)
            except TimeoutError:
                pass
        self._saw(replica)
        return self._round

    async def answer(self, wanted: int, replica: str, exposition: str) -> None:
        if wanted in self._answers:  # a round that has already returned keeps nothing
            self._answers[wanted][replica] = exposition
            async with self._answered:
                self._answered.notify_all()
