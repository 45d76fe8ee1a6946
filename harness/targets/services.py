"""Auxiliary services (the scenario's `services:`): processes a managed server depends on, such
as the Redis its feature lookup reads, which slogate starts before the server, supervises while
the run goes on, and stops after it.

Each entry names a registered kind (`kind: redis`) whose model validates its own arguments and
says how to start it and when it is up (a Redis answers PING and holds its seed). slogate
picks each service a free loopback port when the target is built, so the server's arguments
can name its address: `${features}` in `target.server_args` becomes `redis://127.0.0.1:PORT`.
A service runs in a temporary directory and a process group of its own, its output in
`<name>.log` beside the server's. With `restart: always | on-failure` it is started again
on the same port after an exit (supervised.py), and set up again (a restarted Redis is empty:
it is seeded anew) before its `generation` grows. `pause`, `kill` and `term` faults act on it
by name (`service: features`).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from harness.fields import Seconds, Strict
from harness.targets.supervised import RestartPolicy, Supervised, free_port, log_tail
from slogate_common.registry import Registry

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class ServiceError(Exception):
    """A service that did not come up: the run cannot start (exit code 2)."""


class ServiceSpec(Strict):
    """One entry of `services:`: its kind's arguments, and how slogate supervises it."""

    kind: str
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")  # `${name}` in server_args, `service: name` in faults
    restart: Literal["never", "on-failure", "always"] = "never"
    restart_backoff: Seconds = 0.5  # before a restart; doubles after each failed one
    restart_limit: int = Field(default=10, ge=0)
    ready_timeout: Seconds = Field(default=10.0, gt=0)
    scheme: ClassVar[str]  # of its address: redis://127.0.0.1:PORT

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    async def set_up(self, port: int, alive: Callable[[], bool]) -> None:
        """Return once the service on `port` serves (seeded, where it has a seed); raise RuntimeError
        when `alive()` turns false first. The caller bounds the wait by `ready_timeout`."""
        raise NotImplementedError


service_kinds: Registry[type[ServiceSpec]] = Registry("service kind", builtins="harness.plugins")


def placeholders(arg: str) -> list[str]:
    """The service names an argument refers to, as `${name}`."""
    return PLACEHOLDER.findall(arg)


def with_addresses(args: list[str], services: Mapping[str, Service]) -> list[str]:
    """`args` with each `${name}` replaced by that service's address (the loader checked every name)."""
    return [PLACEHOLDER.sub(lambda match: services[match.group(1)].address, arg) for arg in args]


class Service(Supervised):
    def __init__(self, spec: ServiceSpec, log_path: Path) -> None:
        super().__init__(RestartPolicy(spec.restart, spec.restart_backoff, spec.restart_limit))
        self.spec = spec
        self.log_path = log_path
        self.port = free_port()
        self.address = f"{spec.scheme}://127.0.0.1:{self.port}"
        self._workdir: tempfile.TemporaryDirectory | None = None

    async def start(self) -> None:
        self._ready = asyncio.Condition()
        self._workdir = tempfile.TemporaryDirectory(prefix=f"slogate-{self.spec.name}-")
        try:
            await self._launch()
        except (TimeoutError, RuntimeError, OSError) as exc:
            await self.stop()
            raise ServiceError(f"services: {self.spec.name} ({self.spec.kind}) did not come up: "
                               f"{exc or type(exc).__name__}\n{log_tail(self.log_path, f'{self.spec.name} log', 10)}") from None
        await self._became_ready()
        self._supervise_if_asked()

    def _popen(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # its own process group, like the server's: a terminal's Ctrl-C reaches only slogate, which stops it
            self.process = subprocess.Popen(self.spec.command(self.port), cwd=self._workdir.name, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0)

    async def _await_ready(self) -> float:
        started = time.perf_counter()
        async with asyncio.timeout(self.spec.ready_timeout):
            await self.spec.set_up(self.port, self.alive)
        return time.perf_counter() - started

    async def stop(self) -> None:
        await self._stop_supervising()
        await self._terminate()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
