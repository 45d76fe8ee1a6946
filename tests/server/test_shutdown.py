"""SIGTERM: stop accepting, let in-flight requests finish (bounded), exit 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from server_process import ServerProcess, infer_body

from reference_server.demo.sim import build_sim_model

pytestmark = pytest.mark.integration


@pytest.fixture
def slow_sim_repo(tmp_path: Path) -> Path:
    build_sim_model(tmp_path / "repo" / "slowsim" / "1", {"distribution": "constant", "median_ms": 1500})
    return tmp_path / "repo"


def in_flight(server: ServerProcess) -> int:
    models = httpx.get(server.url + "/admin/models").json()["models"]
    return sum(v["in_flight"] for m in models for v in m["versions"].values())


def send_in_background(server: ServerProcess, results: list[object]) -> threading.Thread:
    def call() -> None:
        try:
            r = httpx.post(server.url + "/v2/models/slowsim/infer", json=infer_body(), timeout=30)
            results.append(r.status_code)
        except httpx.TransportError as e:
            results.append(type(e).__name__)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 10
    while in_flight(server) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return thread


def test_in_flight_request_survives_sigterm_and_exit_is_0(slow_sim_repo: Path, tmp_path: Path) -> None:
    server = ServerProcess(["--model-repo", str(slow_sim_repo)], tmp_path / "server.log").start()
    results: list[object] = []
    thread = send_in_background(server, results)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.TransportError):  # no new connections while draining
        httpx.get(server.url + "/v2/health/live", timeout=2)
    thread.join(15)
    assert results == [200]
    assert server.process.wait(15) == 0
    assert "SIGTERM: draining" in server.log()


def test_drain_is_bounded_by_the_timeout(slow_sim_repo: Path, tmp_path: Path) -> None:
    args = ["--model-repo", str(slow_sim_repo), "--drain-timeout-s", "1"]
    server = ServerProcess(args, tmp_path / "server.log").start()
    httpx.post(server.url + "/admin/faults", json={"kind": "stall", "model": "slowsim"})  # holds until cleared
    results: list[object] = []
    thread = send_in_background(server, results)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(15) == 0
    assert time.monotonic() - started < 10  # a stall forever did not hold shutdown forever
    thread.join(5)
    assert results and results[0] != 200
