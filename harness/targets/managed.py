"""A reference server slogate starts, watches and stops as a subprocess on a free loopback port.

With a restart policy (`target.restart: always | on-failure | never`) a supervisor watches
the process while the run goes on, and starts it again on the same port when it exits
(supervised.py: `restart_backoff`, doubled after each failed restart, up to `restart_limit`).
The scenario's `services:` (services.py) start before the server, whose `server_args` may
name their addresses (`${features}`), and stop after it. With
`target.memory_limit` every process it starts runs in a memory cgroup of that size
(memory_cgroup.py), so an overrun is an OOM kill the supervisor answers like any other exit.
With `target.private_repo` it serves a copy of its model's directory, made for the run in a
directory of its own, so that a fault may change the files (a tampered artifact) without
touching the repository other servers load. With `target.tls` it serves HTTPS: a certificate
made for the run (certificate.py), which the run then trusts alone, or the user's own pair;
every probe, admin call, scrape and request of the run checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.clients import oip_grpc
from harness.clients.signing import Credentials
from harness.targets.base import TargetError, TargetInfo, bearer_headers, target_kinds
from harness.targets.certificate import self_signed
from harness.targets.cgroups import CgroupError
from harness.targets.memory_cgroup import MemoryCgroup
from harness.targets.readiness import wait_ready
from harness.targets.services import Service, ServiceError, ServiceSpec, with_addresses
from harness.targets.supervised import RestartPolicy, Supervised, cancelled, free_port, log_tail
from harness.tls_trust import TlsTrust

if TYPE_CHECKING:
    from harness.scenario.model import AuthSettings, TargetSpec, TlsSettings

MANAGED_READY_TIMEOUT_S = 120.0  # vLLM's engine alone takes ~25 s to start here; torch imports ~3 s


class ManagedServer(Supervised):
    def __init__(
        self,
        log_path: Path,
        model_repo: Path | None = None,
        server_args: list[str] = (),
        protocol: str = "oip-v2",
        ready_timeout_s: float = MANAGED_READY_TIMEOUT_S,
        headers: dict[str, str] | None = None,
        model: str | None = None,
        restart: RestartPolicy = RestartPolicy(),
        memory_limit: int | None = None,
        private_repo: bool = False,
        auth: AuthSettings | None = None,
        services: Sequence[Service] = (),
        engine: str = "uvicorn",
        replicas: str | None = None,
        tls: TlsSettings | None = None,
    ) -> None:
        super().__init__(restart)
        self.services = {service.spec.name: service for service in services}
        self.port = free_port()
        self.memory_limit = memory_limit  # bytes; the kernel kills the server beyond it
        self.cgroup: MemoryCgroup | None = None
        self.log_path = log_path
        self.protocol = protocol
        self.ready_timeout_s = ready_timeout_s
        self.headers = headers or {}
        self.admin_token = secrets.token_urlsafe(24)
        self.credentials = None if auth is None else Credentials()
        self._token_dir = tempfile.TemporaryDirectory(prefix="slogate-admin-")
        self.command = [sys.executable, "-m", "reference_server", "--host", "127.0.0.1", "--port", str(self.port),
                        "--admin-token-file", self._secret_file("admin.token", self.admin_token)]
        if auth is not None and auth.api_keys:
            self.command += ["--api-keys", self._secret_file("api.keys", self.credentials.api_key)]
        if auth is not None and auth.signing:
            self.command += ["--hmac-secret-file", self._secret_file("hmac.secret", self.credentials.signing_secret)]
        self.source_repo = model_repo  # None: the server's demo repository
        self._repo_dir = tempfile.TemporaryDirectory(prefix="slogate-repo-") if private_repo else None
        self.private_repo = Path(self._repo_dir.name) / "models" if self._repo_dir is not None else None
        if self.private_repo is not None or model_repo is not None:
            self.command += ["--model-repo", str(self.private_repo or model_repo)]
        if model is not None and "--models" not in server_args:
            # only the scenario's model: the demo's LLM engine alone costs ~25 s and ~3 GB to start
            self.command += ["--models", model]
        if engine != "uvicorn":  # Ray Serve replicas behind Serve's proxy on the same port (ray_engine/)
            self.command += ["--engine", engine, "--replicas", replicas or "1"]
        self.command += with_addresses(list(server_args), self.services)
        self.model = model
        self.tls = self._serve_tls(tls) if tls is not None else None
        scheme = "http" if self.tls is None else "https"
        self.info = TargetInfo(kind="reference", url=f"{scheme}://127.0.0.1:{self.port}", log_path=str(log_path))
        if protocol == oip_grpc.PROTOCOL:  # /admin and /metrics stay on HTTP; the load goes to the gRPC port
            grpc_port = free_port()
            self.command += ["--grpc-port", str(grpc_port)]
            self.info.load_url = f"grpc://127.0.0.1:{grpc_port}"
        self._revival: asyncio.Task | None = None  # a spawned process on its way to ready

    def _serve_tls(self, tls: TlsSettings) -> TlsTrust:
        """Serve the scenario's certificate, or one made for the run beside the secrets (gone
        with them at stop); what the run's clients trust."""
        if tls.self_signed:
            cert, key = self_signed(Path(self._token_dir.name))
            trust = TlsTrust(ca_bundle=cert)
        else:
            cert, key, trust = tls.cert, tls.key, tls.trust()
        self.command += ["--tls-cert", str(cert), "--tls-key", str(key)]
        return trust

    def _secret_file(self, name: str, secret: str) -> str:
        path = Path(self._token_dir.name) / name
        path.touch(mode=0o600)
        path.write_text(secret)
        return str(path)

    async def start(self) -> TargetInfo:
        self._ready = asyncio.Condition()
        try:
            for service in self.services.values():
                await service.start()
        except ServiceError as exc:
            await self.stop()
            raise TargetError(str(exc)) from None
        if self.memory_limit is not None:
            try:
                self.cgroup = MemoryCgroup.limited(f"slogate-{os.getpid()}-{self.port}", self.memory_limit)
            except CgroupError as exc:
                raise TargetError(f"target.memory_limit: {exc}") from None
        try:
            if self.private_repo is not None:
                await self._copy_repo()
            self.info.time_to_ready_s = await self._launch()
        except (TimeoutError, RuntimeError) as exc:
            await self.stop()
            raise TargetError(f"reference server did not become ready: {exc}\n{log_tail(self.log_path, 'server log')}") from None
        await self._became_ready()
        self._supervise_if_asked()
        return self.info

    async def _copy_repo(self) -> None:
        """Fill the private repository: the model's directory (every model's without one) of the
        given repository, or of the demo one, which the server's own CLI builds if need be."""
        source = self.source_repo
        if source is None:
            built = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "reference_server.demo"],
                                            capture_output=True, text=True)
            if built.returncode != 0:
                raise RuntimeError(f"building the demo repository failed: {built.stderr[-2000:]}")
            source = Path(built.stdout.strip())
        names = [self.model] if self.model is not None else [p.name for p in source.iterdir() if p.is_dir()]
        try:
            for name in names:  # real copies, never links: a fault rewrites them
                await asyncio.to_thread(shutil.copytree, source / name, self.private_repo / name)
        except OSError as exc:
            raise RuntimeError(f"target.private_repo: copying {source} failed: {exc}") from None

    async def _stop_supervising(self) -> None:
        await super()._stop_supervising()
        if self._revival is not None:
            await cancelled(self._revival)
        self._revival = None

    async def _await_ready(self) -> float:
        return await wait_ready(self.info.load_url or self.info.url, self.protocol, self.headers, self.ready_timeout_s,
                                alive=self.alive, tls=self.tls)

    def _popen(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Its own process group keeps a terminal's Ctrl-C away from the server (the runner stops
            # it), but not its own session: with the kernel's autogroup scheduling a session is a
            # CPU group, and a busy server (vLLM's spinning engine) in another group left the load
            # generator ~100 ms behind schedule at p99 on 2 cores (0.2 ms in the same group).
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        self.info.pid = self.process.pid
        if self.cgroup is not None:
            # moved at once: its imports take seconds, so what it had charged elsewhere is negligible
            self.cgroup.add(self.process.pid)

    async def halt(self) -> None:
        """Kill the server at once and keep it down, unsupervised, until `spawn`: a cold start's blank slate."""
        await self._stop_supervising()
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)  # the group: an LLM's engine processes die with it
            await asyncio.to_thread(self.process.wait)

    async def spawn(self) -> None:
        """Start a fresh process and return once it is spawned, not ready: readiness bumps
        `generation` (await `ready_after`), and supervision resumes from there."""
        await asyncio.to_thread(self._popen)  # a fork of this process blocks for ms: not on the send loop
        self._revival = asyncio.create_task(self._come_up())

    async def _come_up(self) -> None:
        try:
            await self._await_ready()
        except (TimeoutError, RuntimeError):
            self._end_process()
            return  # never ready: the generation stays, and the run counts the failures
        await self._became_ready()
        self._supervise_if_asked()

    def _sweep_group(self) -> None:
        """Kill what the server started and left in its process group: Ray's node agents outlive a
        driver that was killed rather than drained."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}

    async def stop(self) -> None:
        await self._stop_supervising()
        await self._terminate()
        self._sweep_group()
        if self.cgroup is not None:
            self.cgroup.remove()
        self._token_dir.cleanup()
        if self._repo_dir is not None:
            self._repo_dir.cleanup()
        for service in self.services.values():  # after the server: nothing it holds may outlive the run
            await service.stop()


@target_kinds.register("reference")
def reference_server(spec: TargetSpec, server_log: Path, services: Sequence[ServiceSpec] = ()) -> ManagedServer:
    headers = bearer_headers(spec.api_key_env) | dict(spec.headers)
    restart = RestartPolicy(spec.restart, spec.restart_backoff, spec.restart_limit)
    ready_timeout_s = MANAGED_READY_TIMEOUT_S if spec.ready_timeout is None else spec.ready_timeout
    running = [Service(service, server_log.with_name(f"{service.name}.log")) for service in services]
    return ManagedServer(server_log, spec.model_repo, list(spec.server_args), spec.protocol, ready_timeout_s,
                         headers, spec.model, restart, spec.memory_limit, spec.private_repo, spec.auth, running,
                         spec.engine, spec.replicas, spec.tls)
