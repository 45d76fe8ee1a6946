"""A reference server slogate starts, watches and stops as a subprocess on a free loopback port.

With a restart policy (`target.restart: always | on-failure | never`) a supervisor watches
the process while the run goes on, and starts it again on the same port when it exits:
`always` after any exit, `on-failure` after a non-zero one (a kill; a SIGTERM answered by a
clean shutdown exits 0), waiting `restart_backoff` first and twice as long after each
restart that failed to become ready, up to `restart_limit` restarts. With
`target.memory_limit` every process it starts runs in a memory cgroup of that size
(memory_cgroup.py), so an overrun is an OOM kill the supervisor answers like any other exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.targets.base import TargetError, TargetInfo, bearer_headers, target_kinds
from harness.targets.cgroups import CgroupError
from harness.targets.memory_cgroup import MemoryCgroup
from harness.targets.readiness import wait_ready

if TYPE_CHECKING:
    from harness.scenario.model import TargetSpec

STOP_GRACE_S = 15.0
EXIT_POLL_S = 0.02  # how soon the supervisor sees an exit; a poll costs microseconds
MAX_BACKOFF_S = 30.0
MANAGED_READY_TIMEOUT_S = 120.0  # vLLM's engine alone takes ~25 s to start here; torch imports ~3 s


@dataclass(frozen=True)
class RestartPolicy:
    when: str = "never"  # "never" | "on-failure" | "always"
    backoff_s: float = 0.5
    limit: int = 10

    def restarts(self, exit_code: int, done: int) -> bool:
        if done >= self.limit or self.when == "never":
            return False
        return self.when == "always" or exit_code != 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ManagedServer:
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
    ) -> None:
        self.port = free_port()
        self.memory_limit = memory_limit  # bytes; the kernel kills the server beyond it
        self.cgroup: MemoryCgroup | None = None
        self.log_path = log_path
        self.protocol = protocol
        self.ready_timeout_s = ready_timeout_s
        self.headers = headers or {}
        self.admin_token = secrets.token_urlsafe(24)
        self._token_dir = tempfile.TemporaryDirectory(prefix="slogate-admin-")
        token_file = Path(self._token_dir.name) / "admin.token"
        token_file.write_text(self.admin_token)
        token_file.chmod(0o600)
        self.command = [sys.executable, "-m", "reference_server", "--host", "127.0.0.1", "--port", str(self.port),
                        "--admin-token-file", str(token_file)]
        if model_repo is not None:
            self.command += ["--model-repo", str(model_repo)]
        if model is not None and "--models" not in server_args:
            # only the scenario's model: the demo's LLM engine alone costs ~25 s and ~3 GB to start
            self.command += ["--models", model]
        self.command += list(server_args)
        self.process: subprocess.Popen | None = None
        self.info = TargetInfo(kind="reference", url=f"http://127.0.0.1:{self.port}", log_path=str(log_path))
        self.restart = restart
        self.restarts = 0
        self._generation = 0
        self._ready: asyncio.Condition | None = None
        self._supervisor: asyncio.Task | None = None
        self._revival: asyncio.Task | None = None  # a spawned process on its way to ready

    async def start(self) -> TargetInfo:
        self._ready = asyncio.Condition()
        if self.memory_limit is not None:
            try:
                self.cgroup = MemoryCgroup.limited(f"slogate-{os.getpid()}-{self.port}", self.memory_limit)
            except CgroupError as exc:
                raise TargetError(f"target.memory_limit: {exc}") from None
        try:
            self.info.time_to_ready_s = await self._launch()
        except (TimeoutError, RuntimeError) as exc:
            await self.stop()
            raise TargetError(f"reference server did not become ready: {exc}\n{self._log_tail()}") from None
        await self._became_ready()
        self._supervise_if_asked()
        return self.info

    def _supervise_if_asked(self) -> None:
        if self.restart.when != "never":
            self._supervisor = asyncio.create_task(self._supervise())

    async def _stop_supervising(self) -> None:
        for task in (self._supervisor, self._revival):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._supervisor = self._revival = None

    async def _launch(self) -> float:
        """Start the process and wait until it is ready; seconds it took. Raises TimeoutError or RuntimeError."""
        self._popen()
        return await wait_ready(self.info.url, self.protocol, self.headers, self.ready_timeout_s, alive=self.alive)

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
            await wait_ready(self.info.url, self.protocol, self.headers, self.ready_timeout_s, alive=self.alive)
        except (TimeoutError, RuntimeError):
            self._end_process()
            return  # never ready: the generation stays, and the run counts the failures
        await self._became_ready()
        self._supervise_if_asked()

    @property
    def generation(self) -> int:
        return self._generation

    async def ready_after(self, generation: int) -> None:
        async with self._ready:
            await self._ready.wait_for(lambda: self._generation > generation)

    async def _became_ready(self) -> None:
        async with self._ready:
            self._generation += 1
            self._ready.notify_all()

    async def _supervise(self) -> None:
        failed_in_a_row = 0
        while True:
            while self.alive():
                await asyncio.sleep(EXIT_POLL_S)
            if not self.restart.restarts(self.process.returncode, self.restarts):
                return
            self.restarts += 1
            await asyncio.sleep(min(self.restart.backoff_s * 2**failed_in_a_row, MAX_BACKOFF_S))
            try:
                await self._launch()
            except (TimeoutError, RuntimeError):
                failed_in_a_row += 1
                self._end_process()
                continue
            failed_in_a_row = 0
            await self._became_ready()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}

    async def stop(self) -> None:
        await self._stop_supervising()
        process = self.process
        if process is not None and process.poll() is None:
            self.resume()  # a paused process cannot handle SIGTERM
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if self.cgroup is not None:
            self.cgroup.remove()
        self._token_dir.cleanup()

    def pause(self) -> None:
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.send_signal(signal.SIGCONT)

    def send_signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.process.pid, sig)

    def _end_process(self) -> None:
        """A restart that never became ready must not linger on the port."""
        if self.alive():
            self.process.kill()
            self.process.wait()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "server log (last lines):\n" + "\n".join(text[-lines:])


@target_kinds.register("reference")
def reference_server(spec: TargetSpec, server_log: Path) -> ManagedServer:
    headers = bearer_headers(spec.api_key_env) | dict(spec.headers)
    restart = RestartPolicy(spec.restart, spec.restart_backoff, spec.restart_limit)
    ready_timeout_s = MANAGED_READY_TIMEOUT_S if spec.ready_timeout is None else spec.ready_timeout
    return ManagedServer(server_log, spec.model_repo, list(spec.server_args), spec.protocol, ready_timeout_s,
                         headers, spec.model, restart, spec.memory_limit)
