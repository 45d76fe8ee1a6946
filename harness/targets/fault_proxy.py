"""The fault proxy in front of a target (`target.proxy`): a Toxiproxy-speaking engine with one
proxy from a loopback port to the target's host and port, which network faults add toxics to.

It relays TCP, so an https:// target's TLS passes through it untouched: the client's handshake
is with the server itself, and the rewritten URL keeps the target's scheme. The client checks
the certificate against the proxy's address, 127.0.0.1, which a managed server's certificate
names; a remote host's certificate does not (unless `tls.verify: false`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from harness.fields import Strict
from harness.netfault.client import ToxiproxyClient
from harness.netfault.engine import Engine, start_engine

PROXY_NAME = "target"


class ProxySettings(Strict):
    """`target.proxy`: the fault proxy in front of the target."""

    engine: Literal["builtin", "toxiproxy"] = "builtin"
    listen: str = Field(default="127.0.0.1:0", pattern=r"^127\.0\.0\.1:\d{1,5}$")  # loopback only


class FaultProxy:
    """A running engine with one proxy to the target, and the client that sets its toxics."""

    def __init__(self, engine: Engine, client: ToxiproxyClient, url: str) -> None:
        self.engine = engine
        self.client = client
        self.url = url

    @classmethod
    async def start(cls, settings: ProxySettings, target_url: str, log_path: Path) -> FaultProxy:
        parts = urlsplit(target_url)
        engine = await start_engine(settings.engine, log_path)
        client = ToxiproxyClient(engine.api_url)
        try:
            upstream = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
            listen = await client.create_proxy(PROXY_NAME, settings.listen, upstream)
        except BaseException:
            await client.close()
            await engine.stop()
            raise
        return cls(engine, client, urlunsplit((parts.scheme, listen, parts.path, "", "")))

    async def stop(self) -> None:
        await self.client.close()
        await self.engine.stop()
