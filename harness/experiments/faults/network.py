"""Network faults: Toxiproxy's toxics on a TCP proxy between the load and the target.

When a scenario's timeline has a `network` fault (or `target.proxy` is set), the fault
timeline starts a proxy engine before the load (harness/netfault: the builtin one, or a
`toxiproxy-server` on PATH with `target.proxy.engine: toxiproxy`), points it at the
target's host and port, and sends the load through it. Admin calls (server faults) still
go to the target directly. Each fault adds its toxic at `at` and removes it after `for`:

    - {action: network, toxic: latency, latency: 100, jitter: 30, at: 10s, for: 10s}
    - {action: network, toxic: reset_peer, timeout: 0, toxicity: 0.3, stream: downstream, at: 30s, for: 5s}

The toxic's attributes are Toxiproxy's, with its names and units (ms, KB/s, bytes, µs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from harness.experiments.faults.actions import FaultArgs, FaultError, fault_actions
from harness.netfault.client import ProxyError
from harness.netfault.toxics import TOXICS, Toxic
from harness.targets.fault_proxy import PROXY_NAME, FaultProxy
from harness.units import format_duration
from slogate_common.registry import UnknownEntry

if TYPE_CHECKING:
    from harness.session.session import Session

SERVICE = "fault_proxy"  # the session service network faults act through
_FAULT_FIELDS = {"action", "at", "for", "for_s", "name", "toxic"}


@fault_actions.register_model("network")
class NetworkFault(FaultArgs):
    """One toxic on the proxy's connections while the fault lasts."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    action: Literal["network"] = "network"
    toxic: str
    spec: Any = Field(default=None, exclude=True)  # the validated toxic, built from the remaining keys

    @model_validator(mode="before")
    @classmethod
    def _toxic_from_the_rest(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "toxic" not in data:
            return data
        kind = data["toxic"]
        try:
            model = TOXICS.entry(kind).args
        except UnknownEntry as exc:
            raise ValueError(f"toxic: {exc}") from None
        attributes = {key: value for key, value in data.items() if key not in _FAULT_FIELDS}
        own = {key: value for key, value in data.items() if key in _FAULT_FIELDS}
        spec = model.model_validate({"type": kind, **attributes})  # its errors name the attribute
        return {**own, "spec": spec}

    def label(self) -> str:
        toxic: Toxic = self.spec
        share = f" on {toxic.toxicity:.0%}" if toxic.toxicity < 1 else ""
        return f"net {toxic.type}{share}" + (f" {format_duration(self.for_s)}" if self.for_s is not None else "")

    async def start(self, session: Session) -> str:
        proxy: FaultProxy = session.services[SERVICE]
        toxic = self.spec.model_copy(update={"name": f"{self.spec.type}_{self.spec.stream}_{self.at:g}s"})
        try:
            await proxy.client.add_toxic(PROXY_NAME, toxic)
        except ProxyError as exc:
            raise FaultError(str(exc)) from None
        return toxic.name

    async def end(self, session: Session, name: str) -> None:
        try:
            await session.services[SERVICE].client.remove_toxic(PROXY_NAME, name)
        except ProxyError as exc:
            raise FaultError(str(exc)) from None
