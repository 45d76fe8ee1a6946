"""The target seam: what load is sent to, and what chaos may act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class TargetError(Exception):
    """The target cannot be used (unreachable, never ready, died at start): exit code 2."""


@dataclass
class TargetInfo:
    kind: str  # "reference" | "url"
    url: str
    pid: int | None = None
    time_to_ready_s: float | None = None
    log_path: str | None = None
    extra: dict = field(default_factory=dict)


class Target(Protocol):
    info: TargetInfo
    admin_headers: dict[str, str]  # for the reference server's /admin API (fault injection)

    async def start(self) -> TargetInfo: ...

    async def stop(self) -> None: ...

    def pause(self) -> None:
        """Freeze the serving process (SIGSTOP); only managed targets can."""

    def resume(self) -> None: ...
