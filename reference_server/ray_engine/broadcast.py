"""A replica's end of the control actor (control.py): admin changes applied in every replica.

The admin API and the repository extension describe each state change as data and submit
it to `state.changes` (admin_changes.py). In a replica that is its `ReplicaLink`: it appends
the change to the control actor's log and answers with what applying it here gave, once its
own follower has reached it. Every replica's follower applies the log in order with
`admin_changes.apply`, so the traffic split, faults, loads and resets are the same in all of
them, fault ids included; a fault's change carries its wall-clock end, so a replica that
replays the log later (Serve's replacement for a killed one) ends it when the others do.
This is `--workers`' WorkerSync (worker_sync.py) over the actor instead of SQLite. GETs answer
from the replica that takes them, which holds the same state.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..admin_changes import Change, apply_in_order
from ..asgi import Receive, Scope, Send, send_json
from .exposition import merged

if TYPE_CHECKING:
    from ray.actor import ActorHandle

    from ..app import ReferenceApp

log = logging.getLogger("reference_server")
SCRAPE_TIMEOUT_S = 2.0  # a replica that cannot render its metrics in this long is left out of the scrape
RETRY_S = 1.0  # after the control actor failed a poll


class ReplicaLink:
    """This replica's `Changes` (admin_changes.py) through the log, its follower, its scrape answers."""

    def __init__(self, control: ActorHandle, replica: str, node: str, app: ReferenceApp,
                 serving: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.control, self.replica, self.node, self.app = control, replica, node, app
        self.serving = serving  # Serve's own view: target and running replica counts
        self.applied = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}  # this replica's submissions, by log seq
        self._loops: list[asyncio.Task[None]] = []

    def install(self) -> None:
        """Send the app's admin changes through the log, add the roster route, merge /metrics."""
        self.app.state.changes = self
        self.app.admin = ReplicasRoute(self, self.app.admin)
        self.app.exposition = self.merged_exposition

    async def join(self) -> None:
        """Replay the log so far, then follow it and answer scrapes; the replica serves after this."""
        while self.applied < await self.control.head.remote():
            await self._apply_all(await self.control.changes_since.remote(self.replica, self.applied))
        await self.control.join.remote(self.replica, os.getpid(), self.node)
        self._loops = [asyncio.create_task(self._forever(self._follow)),
                       asyncio.create_task(self._forever(self._listen))]

    async def leave(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)

    async def submit(self, change: Change) -> Any:
        """Applied in every replica, in the log's order; what applying it here gave (or raised)."""
        seq = await self.control.append.remote(self.replica, change)
        try:
            return await self._future(seq)
        finally:
            self._waiting.pop(seq, None)

    async def merged_exposition(self) -> bytes:
        return merged(await self.control.scrape.remote(SCRAPE_TIMEOUT_S))

    async def replicas(self) -> dict[str, Any]:
        return {**await self.serving(), "replicas": await self.control.roster.remote()}

    # --- following the log -------------------------------------------------------------------

    async def _forever(self, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the control actor restarting, say: the replica keeps serving meanwhile
                log.exception("replica %s: talking to the control actor failed; retrying", self.replica)
                await asyncio.sleep(RETRY_S)

    async def _follow(self) -> None:
        await self._apply_all(await self.control.changes_since.remote(self.replica, self.applied))

    async def _apply_all(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if entry["seq"] > self.applied:
                await self._apply(entry["seq"], entry["change"], entry["origin"] == self.replica)
                self.applied = entry["seq"]

    async def _apply(self, seq: int, change: Change, origin: bool) -> None:
        await apply_in_order(self.app.state, change, self._future(seq) if origin else None, "replica")

    def _future(self, seq: int) -> asyncio.Future[Any]:
        """One per submission, whichever comes first: the submit's wait or the follower's answer."""
        if seq not in self._waiting:
            self._waiting[seq] = asyncio.get_running_loop().create_future()
        return self._waiting[seq]

    # --- scrape rounds -----------------------------------------------------------------------

    async def _listen(self) -> None:
        answered = 0
        while True:
            wanted = await self.control.scrape_wanted.remote(self.replica, answered)
            if wanted > answered:
                exposition = await self.app.local_exposition()
                await self.control.answer.remote(wanted, self.replica, exposition.decode())
                answered = wanted


class ReplicasRoute:
    """The replica's /admin app plus `GET /admin/replicas`: the replicas that joined (ids,
    processes) and Serve's counts. Everything else is the admin app's own."""

    def __init__(self, link: ReplicaLink, admin: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.link, self.admin = link, admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/admin/replicas" and scope["method"] == "GET":
            await send_json(send, 200, await self.link.replicas())
            return
        await self.admin(scope, receive, send)
