"""Servers under benchmark: start one in its own process group, wait until ready, stop it all.

Every server listens on 127.0.0.1. Its own session makes its PID the process group of
whatever it spawns (vLLM's EngineCore, MLServer's workers), so stopping it can check that
nothing outlived it and kill what did.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.targets.managed import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ServerCommand:
    """How to start one server and how to tell it is ready."""

    name: str
    argv: list[str]
    port: int
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 120.0
    stop_grace_s: float = 10.0
    ca_bundle: Path | None = None  # serves HTTPS with a certificate this bundle verifies

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ca_bundle else 'http'}://127.0.0.1:{self.port}"


@dataclass
class Started:
    """A running server: its process, and the seconds from spawn to its first ready answer."""

    process: subprocess.Popen
    base_url: str
    ready_s: float


@contextmanager
def serving(command: ServerCommand, log_dir: Path) -> Iterator[Started]:
    log_path = log_dir / f"{command.name}.log"
    with log_path.open("wb") as log:
        spawned_at = time.perf_counter()
        process = subprocess.Popen(command.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **command.env}, start_new_session=True)
        try:
            ready_at = wait_ready(process, command, log_path)
            yield Started(process, command.base_url, ready_at - spawned_at)
        finally:
            stop(process, command.stop_grace_s)


def wait_ready(process: subprocess.Popen, command: ServerCommand, log_path: Path) -> float:
    """The perf_counter time of the server's first ready answer."""
    deadline = time.monotonic() + command.ready_timeout_s
    url = command.base_url + command.ready_path
    verify = ssl.create_default_context(cafile=str(command.ca_bundle)) if command.ca_bundle else True
    while not _answers_200(url, verify):
        if process.poll() is not None:
            raise RuntimeError(f"{command.name} exited with {process.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{command.name} not ready in {command.ready_timeout_s:g} s; see {log_path}")
        time.sleep(0.02)
    return time.perf_counter()


def _answers_200(url: str, verify: ssl.SSLContext | bool) -> bool:
    try:
        return httpx.get(url, timeout=2, verify=verify).status_code == 200
    except httpx.TransportError:
        return False


def stop(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM (servers drain on it), SIGKILL after the grace, then whatever is left of the group."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + grace_s
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(process.pid):
        os.killpg(process.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def reference_server(repo: Path, models: str, name: str = "reference", ready_path: str = "/v2/health/ready",
                     **overrides) -> ServerCommand:
    """slogate's reference server on `repo`, loading only `models` (comma-separated)."""
    port = free_port()
    argv = [sys.executable, "-m", "reference_server", "--model-repo", str(repo), "--port", str(port),
            "--models", models, "--log-level", "warning"]
    return ServerCommand(name, argv, port, ready_path, **overrides)
