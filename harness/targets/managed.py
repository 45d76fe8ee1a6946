"""A reference server slogate starts, watches and stops as a subprocess on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.targets.base import TargetError, TargetInfo, bearer_headers, target_kinds
from harness.targets.readiness import wait_ready

if TYPE_CHECKING:
    from harness.scenario.model import TargetSpec

STOP_GRACE_S = 15.0


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
        ready_timeout_s: float = 120.0,
        headers: dict[str, str] | None = None,
        model: str | None = None,
    ) -> None:
        self.port = free_port()
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

    async def start(self) -> TargetInfo:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # Its own process group keeps a terminal's Ctrl-C away from the server (the runner stops
            # it), but not its own session: with the kernel's autogroup scheduling a session is a
            # CPU group, and a busy server (vLLM's spinning engine) in another group left the load
            # generator ~100 ms behind schedule at p99 on 2 cores (0.2 ms in the same group).
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, process_group=0)
        self.info.pid = self.process.pid
        try:
            self.info.time_to_ready_s = await wait_ready(
                self.info.url, self.protocol, self.headers, self.ready_timeout_s, alive=self.alive
            )
        except (TimeoutError, RuntimeError) as exc:
            await self.stop()
            raise TargetError(f"reference server did not become ready: {exc}\n{self._log_tail()}") from None
        return self.info

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.admin_token}"}

    async def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            self.resume()  # a paused process cannot handle SIGTERM
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        self._token_dir.cleanup()

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if self.alive():
            os.kill(self.process.pid, sig)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "server log (last lines):\n" + "\n".join(text[-lines:])


@target_kinds.register("reference")
def reference_server(spec: TargetSpec, server_log: Path) -> ManagedServer:
    headers = bearer_headers(spec.api_key_env) | dict(spec.headers)
    return ManagedServer(server_log, spec.model_repo, list(spec.server_args), spec.protocol, spec.ready_timeout,
                         headers, spec.model)
