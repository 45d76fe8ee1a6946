"""An endpoint slogate does not manage: it is checked for readiness, never started or stopped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.targets.base import EXTERNAL, TargetError, TargetInfo, bearer_headers, target_kinds
from harness.targets.readiness import wait_ready

if TYPE_CHECKING:
    from harness.scenario.model import TargetSpec
    from harness.targets.services import ServiceSpec
    from harness.tls_trust import TlsTrust

EXTERNAL_READY_TIMEOUT_S = 15.0  # an endpoint someone else runs is meant to be up: a wrong URL fails fast
EXTERNAL_CONNECT_TIMEOUT_S = 3.0  # refused connections are retried this long (a restarting proxy), no longer


class ExternalTarget:
    def __init__(self, url: str, protocol: str, headers: dict[str, str], ready_timeout_s: float = EXTERNAL_READY_TIMEOUT_S,
                 admin_headers: dict[str, str] | None = None,
                 connect_timeout_s: float = EXTERNAL_CONNECT_TIMEOUT_S, tls: TlsTrust | None = None) -> None:
        self.info = TargetInfo(kind="url", url=url.rstrip("/"))
        self.services = {}
        self.admin_headers = admin_headers or {}
        self.private_repo = None  # its files are not slogate's
        self.credentials = None  # an endpoint's key comes from api_key_env
        self.protocol = protocol
        self.headers = headers
        self.ready_timeout_s = ready_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.tls = tls

    async def start(self) -> TargetInfo:
        try:
            self.info.time_to_ready_s = await wait_ready(self.info.url, self.protocol, self.headers, self.ready_timeout_s,
                                                         unreachable_s=self.connect_timeout_s, tls=self.tls)
        except ValueError as exc:  # a URL the protocol cannot reach
            raise TargetError(f"target.url: {exc}") from None
        except (TimeoutError, RuntimeError, ConnectionError) as exc:
            raise TargetError(f"target {self.info.url} is not reachable or not ready: {exc}") from None
        return self.info

    async def stop(self) -> None:
        return None

    generation = 1

    def pause(self) -> None:
        _not_ours()

    def resume(self) -> None:
        _not_ours()

    def send_signal(self, sig: int) -> None:
        _not_ours()

    async def ready_after(self, generation: int) -> None:
        _not_ours()

    async def halt(self) -> None:
        _not_ours()

    async def spawn(self) -> None:
        _not_ours()


def _not_ours() -> None:
    raise TargetError("an external target's process is not slogate's to signal; use a managed "
                      "`server: reference` target")


@target_kinds.register(EXTERNAL)
def external_target(spec: TargetSpec, server_log: Path, services: Sequence[ServiceSpec] = ()) -> ExternalTarget:
    if services:
        raise TargetError("services: slogate hands their addresses to a server it starts; an external endpoint "
                          "cannot be given them (run a managed `server: reference`)")
    headers = bearer_headers(spec.api_key_env) | dict(spec.headers)
    admin = bearer_headers(spec.admin_token_env)
    ready_timeout_s = EXTERNAL_READY_TIMEOUT_S if spec.ready_timeout is None else spec.ready_timeout
    connect_timeout_s = EXTERNAL_CONNECT_TIMEOUT_S if spec.connect_timeout is None else spec.connect_timeout
    # --target-url in place of a managed server keeps only the check: what that server served is not this one's
    tls = spec.tls.trust() if spec.tls else None
    return ExternalTarget(spec.url, spec.protocol, headers, ready_timeout_s, admin, connect_timeout_s, tls)
