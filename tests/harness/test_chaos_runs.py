"""Game days against the real reference server: kills with and without a supervisor, a budget
blown by an error burst, and Ctrl-C in the middle of faults leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.targets.managed import RestartPolicy

SLOGATE = [sys.executable, "-m", "harness"]
LAG = {"max_lag_p99": "15ms"}  # shared cores: the box's stalls are charged to latency, not invalidity


def slogate_run(scenario: Path, out: Path, timeout_s: float = 120, *options: str) -> tuple[int, dict]:
    done = subprocess.run([*SLOGATE, "run", str(scenario), "--out", str(out), *options], capture_output=True,
                          text=True, timeout=timeout_s)
    summaries = sorted(out.glob("*/*/summary.json"))
    assert summaries, done.stderr[-3000:]
    return done.returncode, json.loads(summaries[-1].read_text())


def poisson(duration: str, rate: int) -> dict:
    return {"phases": [{"duration": duration, "arrival": {"process": "poisson", "rate": rate}}], "warmup": "1s"}


def verdicts(summary: dict) -> dict[tuple[str, str], str]:
    return {(r["expr"], r["window"]): r["verdict"] for r in summary["slos"]}


def test_a_server_that_never_comes_back_fails_its_recovery_time(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="never-back", workload=poisson("16s", 50),
                         faults=[{"action": "kill", "at": "6s", "name": "kill"}],
                         slos=["recovery_time < 10s", "restart_time < 20s", "availability >= 95% in before"],
                         analysis=LAG)
    code, summary = slogate_run(path, tmp_path / "out")
    assert code == 1, summary["slos"]
    assert verdicts(summary)[("recovery_time < 10s", "run")] == "fail"
    assert verdicts(summary)[("restart_time < 20s", "run")] == "fail"
    assert verdicts(summary)[("availability >= 95% in before", "before")] == "pass"
    (fault,) = summary["chaos"]["faults"]
    assert fault["end_s"] is None and fault["recovery_time_ms"] is None  # +inf is written as null
    assert fault["failed_during"]["total"] > 400  # ~10 s at 50 req/s, all refused


def test_a_supervised_kill_restarts_under_load_and_recovers(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="kill-restart", workload=poisson("15s", 50),
                         faults=[{"action": "kill", "at": "5s", "name": "kill"}],
                         slos=["recovery_time < 10s", "availability >= 95%"],
                         analysis={**LAG, "recovery": {"hold": "3s", "allowance": "2s"}})
    data = path.read_text().replace("protocol: oip-v2", "protocol: oip-v2\n  restart: always\n  restart_backoff: 0.1s")
    path.write_text(data)
    code, summary = slogate_run(path, tmp_path / "out")
    (fault,) = summary["chaos"]["faults"]
    assert fault["end_s"] is not None and 0 < fault["restart_time_ms"] < 15_000
    assert fault["time_to_detect_ms"] is not None and fault["time_to_detect_ms"] <= 1_250
    assert verdicts(summary)[("recovery_time < 10s", "run")] == "pass"
    assert verdicts(summary)[("availability >= 95%", "after")] == "pass", summary["slos"]
    assert code == 0, summary["slos"]


def test_a_network_fault_that_never_lifts_fails_its_recovery(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="slow-network", workload=poisson("12s", 40),
                         faults=[{"action": "network", "toxic": "latency", "latency": 150, "at": "5s",
                                  "name": "slow"}],
                         slos=["p90(latency) < 50ms", "recovery_time < 5s", "p50(latency) > 140ms in during(slow)"],
                         analysis=LAG)
    code, summary = slogate_run(path, tmp_path / "out")
    assert code == 1
    assert verdicts(summary)[("recovery_time < 5s", "run")] == "fail"
    assert verdicts(summary)[("p50(latency) > 140ms in during(slow)", "during(slow)")] == "pass"  # it went through the proxy
    assert list((tmp_path / "out").glob("*/*/proxy.log"))


def test_an_error_burst_that_blows_the_budget_fails(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="budget-blown", workload=poisson("14s", 50),
                         faults=[{"action": "error", "at": "5s", "for": "4s", "status": 503, "name": "burst"}],
                         slos=["availability >= 90%", "error_budget_consumed < 100%"], analysis=LAG)
    code, summary = slogate_run(path, tmp_path / "out")
    assert code == 1
    assert summary["budget"]["error_budget_consumed"] > 2.0  # ~30% failed of a 10% budget
    assert verdicts(summary)[("error_budget_consumed < 100%", "run")] == "fail"


def test_ctrl_c_mid_fault_writes_a_partial_report_and_leaves_nothing_running(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="interrupted", workload=poisson("60s", 20),
                         faults=[{"action": "pause", "at": "3s", "for": "50s"},
                                 {"action": "cpu_hog", "at": "2s", "cores": 1}],
                         slos=["availability >= 99%"])
    run = subprocess.Popen([*SLOGATE, "run", str(path), "--out", str(tmp_path / "out")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    harness = psutil.Process(run.pid)
    children = _wait_for_children(harness, 3, timeout_s=40)  # the server and the hog; then the pause begins
    time.sleep(2.0)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 3, stderr[-2000:]
    summary = json.loads(next((tmp_path / "out").glob("*/*/summary.json")).read_text())
    assert summary["interrupted"] and any("Ctrl-C" in reason for reason in summary["load"]["invalid_reasons"])
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]


def _wait_for_children(process: psutil.Process, count: int, timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = [c for c in process.children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
        if len(children) >= count and any("while True" in " ".join(c.cmdline()) for c in children):
            return children
        time.sleep(0.2)
    pytest.fail(f"expected {count} child processes, saw {[c.cmdline() for c in process.children(recursive=True)]}")


@pytest.mark.parametrize(("when", "exit_code", "done", "restarts"), [
    ("never", -9, 0, False), ("always", 0, 0, True), ("always", 0, 10, False),
    ("on-failure", -9, 0, True), ("on-failure", 0, 0, False), ("on-failure", 1, 3, True),
])
def test_the_restart_policy(when: str, exit_code: int, done: int, restarts: bool) -> None:
    assert RestartPolicy(when, limit=10).restarts(exit_code, done) is restarts


def test_no_process_the_harness_started_outlives_it() -> None:
    """The test process itself: every server and hog above was reaped."""
    leftovers = [p for p in psutil.Process(os.getpid()).children(recursive=True)
                 if "reference_server" in " ".join(p.cmdline()) or "while True" in " ".join(p.cmdline())]
    assert not leftovers
