"""Fault actions: what one entry of a scenario's `faults:` timeline does to the target.

Each action is a registered, typed model that validates its own arguments and acts:

- server faults (`latency`, `error`, `nan`, `stall`, `truncate`) go through the reference
  server's admin API (`POST /admin/faults`), which applies them on its request path and
  expires them itself after `for`;
- `memory` makes the reference server allocate `mb` MiB and hold them for `for`;
- `slow_load` makes every load of the matching versions take `ms` longer for `for` (a slow
  artifact fetch: with a cold start or scale to zero, what users wait for);
- `oom` makes a managed server under `target.memory_limit` allocate `mb` MiB: the kernel kills
  it, and the fault lasts until its supervisor has it ready again;
- `pause` freezes a managed server process (SIGSTOP) for `for`, then resumes it;
- `kill` (SIGKILL) and `term` (SIGTERM) end a managed server process; the fault lasts until
  the target's supervisor has restarted it and it is ready again (`target.restart`), or to
  the end of the run when it never comes back;
- `pause`, `kill` and `term` with `service: NAME` act on that auxiliary service of the
  scenario's `services:` instead (a Redis feature store), over when its own supervisor has
  it up again (its `restart`);
- `cpu_hog` runs busy loops on `cores` cores, in processes of their own next to a managed
  server, for `for`; with `limit` or `weight` in a CPU cgroup of their own (cpu_cgroup.py);
- `network` (network.py) puts a toxic on the fault proxy; `tamper` (tamper.py) alters a
  version's artifact and asks the server to reload it; `kill_replica` (replicas.py) kills
  one Ray Serve replica of an `engine: ray` server.

Each action's `preflight` checks, before any load, that this machine can apply it at all;
`start` applies it, `until_over` waits for it to end (by default `for` after its start),
and `end` undoes it; `end` also runs when the run ends first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from harness.clock import wait_until
from harness.fields import Ratio, Seconds, Strict
from harness.targets.admin import AdminError, admin_call
from harness.targets.base import TargetError
from harness.targets.cgroups import Cgroup, CgroupError
from harness.targets.cpu_cgroup import cpu_cgroup
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
    name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")  # for SLO windows: after(NAME)
    needs_managed_target: ClassVar[bool] = False
    needs_private_repo: ClassVar[bool] = False  # it changes files of the server's repository
    ends_when_ready: ClassVar[bool] = False  # its end is the target being ready again
    needs_engine: ClassVar[str | None] = None  # the managed server's `target.engine` it acts on, if one

    def label(self) -> str:
        return self.action + (f" {format_duration(self.for_s)}" if self.for_s is not None else "")

    def end_label(self) -> str:
        return f"end of {self.action}"

    def subject(self, session: Session) -> Any:
        """The process it acts on: the target's."""
        return session.target

    def preflight(self) -> None:
        """Before any load: raise FaultError where this machine cannot apply the fault at all."""

    async def start(self, session: Session) -> Any:
        """Apply the fault; returns what `end` needs to undo it. Raises FaultError."""
        raise NotImplementedError

    def outcome(self, applied: Any) -> str | None:
        """What the target answered to the fault (a tampered reload refused), for its span."""
        return None

    def counts(self, applied: Any) -> dict[str, int]:
        """What the fault adds to run-level counts that SLOs name (`tampered_loads_accepted`)."""
        return {}

    async def until_over(self, session: Session, applied: Any) -> None:
        """Return when the fault is over by itself; a fault without `for` lasts until the run ends."""
        if self.for_s is None:
            return await asyncio.Event().wait()  # cancelled when the load ends
        await wait_until(session.clock.at(self.at + self.for_s))

    async def end(self, session: Session, applied: Any) -> None:
        """Undo the fault; called once after `start` succeeded, also when the run ends early."""


fault_actions: Registry[type[FaultArgs]] = Registry("fault action", builtins="harness.plugins")


class ServerFault(FaultArgs):
    """Applied by the reference server to the requests it matches (`rate` of them)."""

    rate: Ratio = 1.0
    model: str | None = None
    version: str | None = None

    def admin_body(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"action", "at", "for_s", "name"}, exclude_none=True)
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
    try:
        return await admin_call(session.http, session.target, method, path, body)
    except AdminError as exc:
        raise FaultError(str(exc)) from None


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


@fault_actions.register_model("memory")
class MemoryFault(ServerFault):
    """The server allocates `mb` MiB (touching every page) and holds them while the fault lasts."""

    action: Literal["memory"] = "memory"
    mb: float = Field(gt=0, le=65536)

    def admin_body(self) -> dict[str, Any]:
        # the server expires faults lazily, when a request rolls them: the harness frees it on time instead
        return {key: value for key, value in super().admin_body().items() if key != "duration_s"}

    async def end(self, session: Session, fault_id: str | None) -> None:
        if fault_id is not None:
            await _admin(session, "DELETE", f"/admin/faults/{fault_id}")


@fault_actions.register_model("slow_load")
class SlowLoadFault(ServerFault):
    """Each load of a matching version while it lasts (a wake from zero, a reload) takes `ms` longer."""

    action: Literal["slow_load"] = "slow_load"
    ms: float = Field(ge=0, le=3_600_000)


class UntilReady(FaultArgs):
    """A fault that ends the managed server process: over when its supervisor has it ready again."""

    needs_managed_target: ClassVar[bool] = True
    ends_when_ready: ClassVar[bool] = True

    @field_validator("for_s")
    @classmethod
    def _no_duration(cls, for_s: float | None) -> None:
        if for_s is not None:
            raise ValueError(f"{cls.model_fields['action'].default} lasts until the server is ready again "
                             "(target.restart): it takes no `for`")
        return None

    def end_label(self) -> str:
        return "ready again"

    async def until_over(self, session: Session, generation: int) -> None:
        await self.subject(session).ready_after(generation)


class OnService(FaultArgs):
    """A process fault that may name one of the scenario's services to act on instead of the server."""

    service: str | None = None  # a `services:` name; the loader checks it (faults/timeline.py)

    def label(self) -> str:
        if self.service is None:
            return super().label()
        return f"{self.action} {self.service}" + (f" {format_duration(self.for_s)}" if self.for_s is not None else "")

    def subject(self, session: Session) -> Any:
        return session.target if self.service is None else session.target.services[self.service]


@fault_actions.register_model("oom")
class OomFault(UntilReady):
    """The server allocates `mb` MiB past its memory limit."""

    action: Literal["oom"] = "oom"
    mb: float = Field(gt=0, le=65536)

    async def start(self, session: Session) -> int:
        generation = session.target.generation
        body = {"kind": "memory", "mb": self.mb}
        try:
            answer = await admin_call(session.http, session.target, "POST", "/admin/faults", body)
        except AdminError as exc:
            if generation == session.target.generation and not _dropped(exc):
                raise FaultError(str(exc)) from None
            return generation  # the kernel killed it mid-allocation, as meant
        await _admin(session, "DELETE", f"/admin/faults/{answer.get('id')}")
        raise FaultError(f"the server held {self.mb:g} MiB more and lived: set target.memory_limit below that")


def _dropped(exc: AdminError) -> bool:
    """The admin call lost its connection (its server died), rather than being refused."""
    return exc.status is None


@fault_actions.register_model("pause")
class PauseFault(OnService):
    """SIGSTOP the managed server process (or the named service) for `for`, then SIGCONT."""

    action: Literal["pause"] = "pause"
    for_s: Seconds = Field(alias="for")
    needs_managed_target: ClassVar[bool] = True

    def end_label(self) -> str:
        return "resume"

    async def start(self, session: Session) -> None:
        try:
            self.subject(session).pause()
        except TargetError as exc:
            raise FaultError(str(exc)) from None

    async def end(self, session: Session, applied: None) -> None:
        self.subject(session).resume()


class ProcessFault(UntilReady, OnService):
    """Signal the managed server process, or the named service's."""

    sends: ClassVar[signal.Signals]

    async def start(self, session: Session) -> int:
        subject = self.subject(session)
        generation = subject.generation
        try:
            subject.send_signal(self.sends)
        except TargetError as exc:
            raise FaultError(str(exc)) from None
        return generation


@fault_actions.register_model("kill")
class KillFault(ProcessFault):
    action: Literal["kill"] = "kill"
    sends: ClassVar[signal.Signals] = signal.SIGKILL


@fault_actions.register_model("term")
class TermFault(ProcessFault):
    action: Literal["term"] = "term"
    sends: ClassVar[signal.Signals] = signal.SIGTERM


# One launcher per hog, which forks the other loops once slogate has closed its stdin: by then it
# is in the hog's cgroup, so every loop is born there; and the run's event loop, which sends the
# load, pays for one process start, not `cores` (16 of them stalled it ~150 ms).
HOG = """import os, sys
sys.stdin.read()
for _ in range(int(sys.argv[1]) - 1):
    if os.fork() == 0:
        break
while True:
    pass
"""
GROUP_EMPTY_WITHIN_S = 2.0  # killed loops leave their cgroup within milliseconds


@fault_actions.register_model("cpu_hog")
class CpuHogFault(FaultArgs):
    """Busy loops on `cores` cores beside the managed server: a noisy neighbour. With `limit`
    (cores) or `weight` the neighbour runs in a CPU cgroup of its own with that CFS quota or
    weight, as a container with a CPU limit or request would."""

    action: Literal["cpu_hog"] = "cpu_hog"
    cores: int = Field(default=1, ge=1, le=256)
    limit: float | None = Field(default=None, ge=0.01, le=256)  # the kernel's smallest quota is 1 ms a period
    weight: int | None = Field(default=None, ge=1, le=10000)  # cgroup v2's cpu.weight, 100 the default
    needs_managed_target: ClassVar[bool] = True  # "beside the server" holds only for one slogate started

    def label(self) -> str:
        confined = "".join(f" {key} {value:g}" for key, value in (("limit", self.limit), ("weight", self.weight))
                           if value is not None)
        return f"cpu_hog ×{self.cores}{confined}" + (f" {format_duration(self.for_s)}" if self.for_s is not None else "")

    def preflight(self) -> None:
        if self.confined:
            self._group("probe").remove()

    @property
    def confined(self) -> bool:
        return self.limit is not None or self.weight is not None

    async def start(self, session: Session) -> tuple[subprocess.Popen, Cgroup | None]:
        # off the event loop that sends the load: a fork of the harness takes 5-20 ms here
        spawning = asyncio.ensure_future(asyncio.to_thread(self._spawn))
        try:
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:  # the run ended meanwhile: no loop may outlive it
            with contextlib.suppress(FaultError):
                await self.end(session, await spawning)
            raise

    def _spawn(self) -> tuple[subprocess.Popen, Cgroup | None]:
        group = self._group("hog") if self.confined else None
        # a process group of its own, so that ending it ends every loop
        hog = subprocess.Popen([sys.executable, "-c", HOG, str(self.cores)], process_group=0, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if group is not None:
                group.add(hog.pid)
        except OSError as exc:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()
            group.remove(GROUP_EMPTY_WITHIN_S)
            raise FaultError(f"cannot move the hog into {group.path}: {exc.strerror or exc}") from None
        finally:
            hog.stdin.close()
        return hog, group

    async def end(self, session: Session, applied: tuple[subprocess.Popen, Cgroup | None]) -> None:
        hog, group = applied
        with contextlib.suppress(ProcessLookupError):
            os.killpg(hog.pid, signal.SIGKILL)
        await asyncio.to_thread(hog.wait)
        if group is not None:
            await asyncio.to_thread(group.remove, GROUP_EMPTY_WITHIN_S)

    def _group(self, role: str) -> Cgroup:
        try:
            return cpu_cgroup(f"slogate-{role}-{os.getpid()}-{id(self)}", self.limit, self.weight)
        except CgroupError as exc:
            raise FaultError(str(exc)) from None
