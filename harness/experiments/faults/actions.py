"""Fault actions: what one entry of a scenario's `faults:` timeline does to the target.

Each action is a registered, typed model that validates its own arguments and acts:

- server faults (`latency`, `error`, `nan`, `stall`, `truncate`) go through the reference
  server's admin API (`POST /admin/faults`), which applies them on its request path and
  expires them itself after `for`;
- `pause` freezes a managed server process (SIGSTOP) for `for`, then resumes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

import aiohttp
from pydantic import Field

from harness.fields import Ratio, Seconds, Strict
from harness.targets.base import TargetError
from harness.units import format_duration
from slogate_common.registry import Registry

if TYPE_CHECKING:
    from harness.session.session import Session


class FaultError(Exception):
    """A fault that could not be applied; the run records it and is invalid."""


class FaultArgs(Strict):
    action: str
    at: Seconds
    for_s: Seconds | None = Field(default=None, alias="for")  # None: until the run ends
    needs_managed_target: ClassVar[bool] = False

    def label(self) -> str:
        return self.action + (f" {format_duration(self.for_s)}" if self.for_s is not None else "")

    def end_label(self) -> str:
        return f"end of {self.action}"

    async def start(self, session: Session) -> Any:
        """Apply the fault; returns what `end` needs to undo it. Raises FaultError."""
        raise NotImplementedError

    async def end(self, session: Session, applied: Any) -> None:
        """Undo the fault; called once after `start` succeeded, also when the run ends early."""


fault_actions: Registry[type[FaultArgs]] = Registry("fault action", builtins="harness.plugins")


class ServerFault(FaultArgs):
    """Applied by the reference server to the requests it matches (`rate` of them)."""

    rate: Ratio = 1.0
    model: str | None = None
    version: str | None = None

    def admin_body(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"action", "at", "for_s"}, exclude_none=True)
        body["kind"] = self.action
        if self.for_s is not None:
            body["duration_s"] = self.for_s
        return body

    def label(self) -> str:
        return f"{self.action} fault" + (f" {format_duration(self.for_s)}" if self.for_s is not None else "")

    async def start(self, session: Session) -> str | None:
        answer = await _admin(session, "POST", "/admin/faults", self.admin_body())
        return answer.get("id")

    async def end(self, session: Session, fault_id: str | None) -> None:
        if self.for_s is None and fault_id is not None:  # a timed fault expires on the server by itself
            await _admin(session, "DELETE", f"/admin/faults/{fault_id}")


async def _admin(session: Session, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    url = session.target.info.url + path
    try:
        async with session.http.request(method, url, json=body, headers=session.target.admin_headers) as response:
            if response.status >= 300:
                raise FaultError(f"admin API answered {response.status} to {method} {path}")
            return await response.json()
    except aiohttp.ClientError as exc:
        raise FaultError(f"{method} {path}: {exc}") from None


@fault_actions.register_model("latency")
class LatencyFault(ServerFault):
    action: Literal["latency"] = "latency"
    ms: float = Field(ge=0)


@fault_actions.register_model("error")
class ErrorFault(ServerFault):
    action: Literal["error"] = "error"
    status: int = Field(default=500, ge=400, le=599)


@fault_actions.register_model("nan")
class NanFault(ServerFault):
    action: Literal["nan"] = "nan"


@fault_actions.register_model("stall")
class StallFault(ServerFault):
    """Holds responses for `ms`, or until the fault ends."""

    action: Literal["stall"] = "stall"
    ms: float | None = Field(default=None, ge=0)


@fault_actions.register_model("truncate")
class TruncateFault(ServerFault):
    """LLM streams: the connection closes after `chunks` chunks (absent: at a random point)."""

    action: Literal["truncate"] = "truncate"
    chunks: int | None = Field(default=None, ge=1)


@fault_actions.register_model("pause")
class PauseFault(FaultArgs):
    """SIGSTOP the managed server process for `for`, then SIGCONT."""

    action: Literal["pause"] = "pause"
    for_s: Seconds = Field(alias="for")
    needs_managed_target: ClassVar[bool] = True

    def end_label(self) -> str:
        return "resume"

    async def start(self, session: Session) -> None:
        try:
            session.target.pause()
        except TargetError as exc:
            raise FaultError(str(exc)) from None

    async def end(self, session: Session, applied: None) -> None:
        session.target.resume()
