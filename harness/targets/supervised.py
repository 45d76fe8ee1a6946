"""A process slogate starts, restarts by a policy, and counts the generations of its readiness:
the managed server (managed.py) and each auxiliary service (services.py).

A supervisor polls the process while the run goes on and starts it again when it exits:
`always` after any exit, `on-failure` after a non-zero one (a kill; a SIGTERM answered by a
clean shutdown exits 0), waiting `backoff` first and twice as long after each restart that
failed to become ready, up to `limit` restarts. Each time the process is ready its
`generation` grows by one, which a fault that ends the process waits for (`ready_after`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

STOP_GRACE_S = 15.0
EXIT_POLL_S = 0.02  # how soon the supervisor sees an exit; a poll costs microseconds
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class RestartPolicy:
    when: str = "never"  # "never" | "on-failure" | "always"
    backoff_s: float = 0.5
    limit: int = 10

    def restarts(self, exit_code: int, done: int) -> bool:
        if done >= self.limit or self.when == "never":
            return False
        return self.when == "always" or exit_code != 0

    def delay_s(self, failed_in_a_row: int) -> float:
        return min(self.backoff_s * 2**failed_in_a_row, MAX_BACKOFF_S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Supervised:
    """Subclasses say how to start the process (`_popen`) and how to know it is ready (`_await_ready`)."""

    def __init__(self, restart: RestartPolicy) -> None:
        self.restart = restart
        self.restarts = 0
        self.process: subprocess.Popen | None = None
        self._generation = 0
        self._ready: asyncio.Condition | None = None
        self._supervisor: asyncio.Task | None = None

    def _popen(self) -> None:
        raise NotImplementedError

    async def _await_ready(self) -> float:
        """Seconds until the process was ready. Raises TimeoutError, or RuntimeError when it exits first."""
        raise NotImplementedError

    async def _launch(self) -> float:
        """Start the process and wait until it is ready; seconds it took. Raises TimeoutError or RuntimeError."""
        self._popen()
        return await self._await_ready()

    def _supervise_if_asked(self) -> None:
        if self.restart.when != "never":
            self._supervisor = asyncio.create_task(self._supervise())

    async def _stop_supervising(self) -> None:
        if self._supervisor is not None:
            await cancelled(self._supervisor)
        self._supervisor = None

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
            await asyncio.sleep(self.restart.delay_s(failed_in_a_row))
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

    def pause(self) -> None:
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.send_signal(signal.SIGCONT)

    def send_signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.process.pid, sig)

    async def _terminate(self) -> None:
        """SIGTERM, and SIGKILL after STOP_GRACE_S; a paused process is resumed first (it cannot handle SIGTERM)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        self.resume()
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    def _end_process(self) -> None:
        """A restart that never became ready must not linger on the port."""
        if self.alive():
            self.process.kill()
            self.process.wait()


def log_tail(path: Path, title: str, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return f"{title} (last lines):\n" + "\n".join(text[-lines:])


async def cancelled(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
