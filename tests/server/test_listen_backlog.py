"""--backlog N sets the listen queue the kernel keeps for the server (what `ss` reports as the
listening socket's Send-Q), and a bad value stops it before it starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from server_process import ServerProcess

from reference_server.demo.sim import build_sim_model

pytestmark = pytest.mark.integration


def listen_queue(port: int) -> int:
    ss = shutil.which("ss")
    assert ss, "iproute2's ss (scripts/install.sh installs it)"
    lines = subprocess.run([ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    (line,) = lines.splitlines()
    return int(line.split()[2])  # State Recv-Q Send-Q ...: a listener's Send-Q is its backlog


def test_the_listen_queue_is_the_backlog_given(tmp_path: Path) -> None:
    build_sim_model(tmp_path / "repo" / "sim" / "1", {"distribution": "constant", "median_ms": 1.0})
    server = ServerProcess(["--model-repo", str(tmp_path / "repo"), "--backlog", "37"], tmp_path / "server.log").start()
    try:
        assert listen_queue(server.port) == 37
    finally:
        assert server.stop() == 0


def test_a_backlog_below_one_is_refused_at_start() -> None:
    done = subprocess.run([sys.executable, "-m", "reference_server", "--backlog", "0"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "--backlog must be >= 1" in done.stderr
