"""The target seam: what load is sent to, and what chaos may act on."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from harness.clients.signing import Credentials
from slogate_common.registry import Registry

if TYPE_CHECKING:
    from harness.scenario.model import TargetSpec
    from harness.targets.services import Service, ServiceSpec
    from harness.tls_trust import TlsTrust

EXTERNAL = "url"  # the target kind of an endpoint given by URL; every other kind is managed


class TargetError(Exception):
    """The target cannot be used (unreachable, never ready, died at start): exit code 2."""


@dataclass
class TargetInfo:
    kind: str  # "reference" | "url"
    url: str
    load_url: str | None = None  # where the load goes when not to `url`: a managed server's gRPC port
    pid: int | None = None
    time_to_ready_s: float | None = None
    log_path: str | None = None
    extra: dict = field(default_factory=dict)


class Target(Protocol):
    info: TargetInfo
    admin_headers: dict[str, str]  # for the reference server's /admin API (fault injection)
    private_repo: Path | None  # the copy of the model repository made for the run (target.private_repo), if any
    credentials: Credentials | None  # the API key and signing secret made for the run (target.auth)
    services: Mapping[str, Service]  # the scenario's `services:`, by name, which a managed target runs
    tls: TlsTrust | None  # how its https:// url's certificate is checked; None: plain http, or the system's CAs

    async def start(self) -> TargetInfo: ...

    async def stop(self) -> None: ...

    def pause(self) -> None:
        """Freeze the serving process (SIGSTOP); only managed targets can."""

    def resume(self) -> None: ...

    @property
    def generation(self) -> int:
        """How many times the server has become ready: 1 after start, +1 per restart."""

    def send_signal(self, sig: int) -> None:
        """Signal the serving process (kill, term); only managed targets can."""

    async def ready_after(self, generation: int) -> None:
        """Return once the server has become ready again since `generation` (never, if it does not)."""

    async def halt(self) -> None:
        """Kill the serving process and keep it down until `spawn`; only managed targets can."""

    async def spawn(self) -> None:
        """Start a fresh serving process; return once it is spawned, before it is ready."""


# (the scenario's target, the server log path, the scenario's services)
TargetFactory = Callable[["TargetSpec", Path, Sequence["ServiceSpec"]], Target]
target_kinds: Registry[TargetFactory] = Registry("target kind", builtins="harness.plugins")


def build_target(spec: TargetSpec, server_log: Path, url: str | None = None,
                 services: Sequence[ServiceSpec] = ()) -> Target:
    """The scenario's target, or the endpoint at `url` (`--target-url`) instead of it."""
    if url is not None:
        if spec.auth is not None:  # the endpoint holds none of them: bad requests would go out as good ones
            raise TargetError("target.auth: credentials made for the run reach only the managed server, "
                              "not --target-url")
        spec = spec.model_copy(update={"url": url, "server": None})
    if spec.kind is None:
        raise TargetError("the scenario names neither `target.server` nor `target.url`: give one, or --target-url")
    return target_kinds.get(spec.kind)(spec, server_log, services)


def bearer_headers(env_name: str | None) -> dict[str, str]:
    """`authorization: Bearer …` from the environment variable a scenario names, if any."""
    if not env_name:
        return {}
    key = os.environ.get(env_name)
    if not key:
        raise TargetError(f"target.api_key_env names {env_name}, which is not set")
    return {"authorization": f"Bearer {key}"}
