"""Starting a proxy engine as a child process, and stopping it without leftovers.

    engine = await start_engine("builtin", log_path)     # python -m harness.netfault
    engine = await start_engine("toxiproxy", log_path)   # toxiproxy-server, if it is on PATH
    async with engine:
        async with ToxiproxyClient(engine.api_url) as client: ...

The engine runs in its own process group, so that stopping it (SIGTERM to the group, SIGKILL
after a grace) reaches whatever it spawned. It is ready when its control API answers
GET /version; the builtin engine first writes its port to a ready file, as it picks a free
one itself.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal, Self

import aiohttp

from harness.netfault.client import ProxyError

EngineKind = Literal["builtin", "toxiproxy"]
HOST = "127.0.0.1"
POLL_S = 0.02
LOG_TAIL_CHARS = 2000


class Engine:
    """A running engine: its control API's URL, and the process that serves it."""

    def __init__(self, kind: EngineKind, process: subprocess.Popen, api_url: str, log_path: Path) -> None:
        self.kind = kind
        self.process = process
        self.api_url = api_url
        self.log_path = log_path

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM to the group, SIGKILL to what is left of it after `grace_s`."""
        _signal_group(self.process.pid, signal.SIGTERM)
        if not await _exited(self.process, grace_s):
            _signal_group(self.process.pid, signal.SIGKILL)
            await _exited(self.process, grace_s)
        if group_alive(self.process.pid):  # the leader is gone, something it spawned is not
            _signal_group(self.process.pid, signal.SIGKILL)


async def start_engine(kind: EngineKind, log_path: Path, *, ready_timeout_s: float = 20.0) -> Engine:
    """Start the engine, logging to `log_path`; a ProxyError with the log's tail if it never answers."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    ready_file = log_path.with_name(log_path.name + ".port")
    ready_file.unlink(missing_ok=True)
    argv, port = _command(kind, ready_file)
    # Popen, not asyncio's subprocesses: an engine may outlive the event loop that started it
    # (B7 starts it in one asyncio.run and stops it in another). Spawning takes milliseconds.
    with log_path.open("wb") as log:  # the child has its own copy of the descriptor
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,  # noqa: ASYNC220
                                   stderr=subprocess.STDOUT, process_group=0)
    engine = Engine(kind, process, "", log_path)
    try:
        engine.api_url = await _wait_ready(process, port, ready_file, ready_timeout_s, log_path)
    except BaseException:
        await engine.stop()
        raise
    return engine


def _command(kind: EngineKind, ready_file: Path) -> tuple[list[str], int | None]:
    """The argv, and the control port when it is chosen here (None: read from the ready file)."""
    if kind == "builtin":
        return [sys.executable, "-m", "harness.netfault", "--host", HOST, "--port", "0",
                "--ready-file", str(ready_file)], None
    if kind == "toxiproxy":
        binary = shutil.which("toxiproxy-server")
        if binary is None:
            raise ProxyError("toxiproxy-server is not on PATH; install it, or use `engine: builtin`, "
                             "which needs nothing")
        port = _free_port()
        return [binary, "-host", HOST, "-port", str(port)], port
    raise ProxyError(f"unknown proxy engine {kind!r}; choose builtin or toxiproxy")


async def _wait_ready(process: subprocess.Popen, port: int | None, ready_file: Path, timeout_s: float,
                      log_path: Path) -> str:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as session:
        while True:
            if process.poll() is not None:
                raise ProxyError(f"the proxy engine exited with {process.returncode}; {_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise ProxyError(f"the proxy engine did not answer in {timeout_s:g} s; {_log_tail(log_path)}")
            if port is None and ready_file.exists():
                port = int(ready_file.read_text())
            if port is not None and await _answers(session, f"http://{HOST}:{port}"):
                return f"http://{HOST}:{port}"
            await asyncio.sleep(POLL_S)


async def _answers(session: aiohttp.ClientSession, api_url: str) -> bool:
    try:
        async with session.get(api_url + "/version") as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def _exited(process: subprocess.Popen, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while process.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _log_tail(log_path: Path) -> str:
    try:
        text = log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:].strip()
    except OSError:
        text = ""
    return f"its log ({log_path}) ends: {text}" if text else f"its log ({log_path}) is empty"
