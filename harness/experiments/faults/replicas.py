"""The `kill_replica` fault: SIGKILL one Ray Serve replica of a managed `engine: ray` server.

    - {action: kill_replica, at: 10s, replica: 0, name: replica_lost}

At `at` the harness asks the server which replicas serve (`GET /admin/replicas`: ids and
process ids, oldest first), kills the process of the `replica`-th one (0: the oldest) with
SIGKILL, and waits for Serve to replace it: the fault is over when a replica that was not
there before the kill has joined (loaded, warm, and through the admin log, so it serves the
same split and faults), and as many replicas serve as before. Its span's `restart_time` is
then how long Ray took to replace the replica, and the chaos section's `failed_during`
counts the requests that failed meanwhile: those in flight on the killed replica, and any
Serve's proxy still sent it before it noticed the death.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from harness.experiments.faults.actions import FaultError, UntilReady, fault_actions
from harness.targets.admin import AdminError, admin_call

if TYPE_CHECKING:
    from harness.session.session import Session

POLL_S = 0.1  # how often the replacement is looked for: the restart time's resolution


@dataclass(frozen=True)
class Killed:
    replica: str
    pid: int
    before: frozenset[str]  # the replica ids serving at the kill
    serving: int  # how many of them: a replacement restores this count


@fault_actions.register_model("kill_replica")
class KillReplicaFault(UntilReady):
    """SIGKILL one replica's process; over when Serve has a new one serving."""

    action: Literal["kill_replica"] = "kill_replica"
    replica: int = Field(default=0, ge=0, description="which replica, by when it joined: 0 the oldest")
    needs_engine: ClassVar[str | None] = "ray"

    def label(self) -> str:
        return f"kill_replica #{self.replica}"

    def end_label(self) -> str:
        return "replica replaced"

    async def start(self, session: Session) -> Killed:
        roster = await _roster(session)
        if self.replica >= len(roster):
            raise FaultError(f"replica {self.replica}: only {len(roster)} replicas serve")
        victim = roster[self.replica]
        try:
            os.kill(victim["pid"], signal.SIGKILL)
        except ProcessLookupError:
            raise FaultError(f"replica {victim['replica']} (pid {victim['pid']}) had already gone") from None
        return Killed(victim["replica"], victim["pid"], frozenset(r["replica"] for r in roster), len(roster))

    def outcome(self, killed: Killed) -> str:
        return f"replica {killed.replica} (pid {killed.pid}) of {killed.serving}"

    async def until_over(self, session: Session, killed: Killed) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                serving = {r["replica"] for r in await _roster(session)} - {killed.replica}
            except FaultError:  # the admin call reached the dead replica before Serve noticed: ask again
                continue
            if serving - killed.before and len(serving) >= killed.serving:
                return


async def _roster(session: Session) -> list[dict[str, Any]]:
    try:
        answer = await admin_call(session.http, session.target, "GET", "/admin/replicas")
    except AdminError as exc:
        raise FaultError(str(exc)) from None
    return answer["replicas"]
