"""`slogate` end to end as users run it: a subprocess, the real server, real exit codes and files."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import psutil
import pytest

from harness.history.store import HistoryStore

pytestmark = pytest.mark.integration


def slogate(*args, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def run_dirs(out):
    return sorted(path.parent for path in out.rglob("summary.json"))


@pytest.fixture
def quick(sim_repo, tmp_path, make_scenario):
    def make(name: str, slos: list[str], rate: int = 40, duration: str = "6s", **extra):
        # these tests are about exit codes and files, not timing: a busy CI box must not make them invalid
        return make_scenario(tmp_path, sim_repo, "const10", name=name, slos=slos, analysis={"max_lag_p99": "50ms"},
                             workload={"phases": [{"duration": duration, "arrival": {"process": "constant", "rate": rate}}]},
                             **extra)
    return make


def test_pass_writes_every_artifact_and_exits_0(quick, tmp_path, monkeypatch):
    monkeypatch.delenv("SLOGATE_HISTORY_URL", raising=False)  # the default history: SQLite in --out
    path = quick("passes", ["p50(latency) < 200ms", "error_rate < 10%"])
    result = slogate("run", path, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = run_dirs(tmp_path / "out")
    for name in ("summary.json", "requests.parquet", "telemetry.parquet", "report.html", "server.log"):
        assert (run_dir / name).exists(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema"] == "slogate.summary/1" and summary["verdict"] == "pass"
    assert summary["load"]["requests"] == 240
    # what served the run: the managed server's own word on each version
    assert summary["target"]["versions"] == {"1": 100.0}
    assert summary["target"]["served"] == {"1": {"backend": "sim", "requested_backend": "sim", "device": "cpu"}}
    telemetry = pd.read_parquet(run_dir / "telemetry.parquet")
    assert len(telemetry) >= 3 and telemetry["rss_bytes"].gt(0).all()
    assert "PASS" in result.stdout
    assert_stored_in_the_history(tmp_path / "out", run_dir, path, summary)
    assert "history: run #1 in sqlite:///" in result.stdout


def assert_stored_in_the_history(out, run_dir, scenario_file, summary):
    """The run, where and on what it ran, and its figures, in the default history (SQLite in --out)."""
    with HistoryStore.open(f"sqlite:///{out / 'history.sqlite'}", create=False) as store:
        (run,) = store.runs()
    assert (run.scenario, run.verdict, run.run_dir, run.requests) == ("passes", "pass", str(run_dir.resolve()), 240)
    assert run.scenario_hash == hashlib.sha256(scenario_file.read_bytes()).hexdigest()
    assert run.started_at == summary["started_at"] and run.server_version == "slogate-reference 0.1.0"
    assert run.models["versions"] == {"1": 100.0} and run.models["served"]["1"]["backend"] == "sim"
    assert run.machine["cores"] == os.cpu_count() and run.machine["cpu_model"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    assert run.git_commit == (head.stdout.strip() if head.returncode == 0 else None)
    p50 = run.figure("p50(latency)")
    assert p50.estimate == summary["latency_ms"]["p50"] and p50.lo <= p50.estimate <= p50.hi
    assert run.figure("p50(latency) < 200ms").verdict == "pass"
    assert run.figure("error_rate").estimate == summary["error_rate"]["estimate"]


def test_a_failed_slo_exits_1(quick, tmp_path):
    """... and a history that cannot be written warns without changing the exit code."""
    unreachable = "postgresql://nobody@127.0.0.1:9/history"
    result = slogate("run", quick("fails", ["p50(latency) < 2ms"]), "--out", tmp_path / "out",
                     "--history-url", unreachable)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout
    assert "history: the run was not recorded" in result.stderr and "127.0.0.1:9" in result.stderr




def test_too_few_samples_is_inconclusive_and_exits_3(quick, tmp_path):
    path = quick("thin", ["p99.9(latency) < 500ms"], rate=10, duration="3s")
    result = slogate("run", path, "--out", tmp_path / "out")
    assert result.returncode == 3, result.stdout + result.stderr
    assert slogate("run", path, "--out", tmp_path / "out", "--inconclusive-ok").returncode == 0


def test_a_scenario_error_exits_2_and_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\ntarget: {server: reference, model: fraud}\nworkload:\n  phases: []\n")
    result = slogate("run", path, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert f"{path}:4: workload.phases" in result.stderr


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_payload_typo_exits_2_before_anything_starts(tmp_path, command):
    """An unknown payload key once passed `validate`, and `run` crashed after a 30 s vLLM start."""
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\ntarget: {server: reference, model: tiny-llm, protocol: openai}\nworkload:\n"
                    "  phases: [{duration: 5s, arrival: {process: poisson, rate: 2}}]\n"
                    "  payload: {generator: prompts, stream: true}\n")
    result = slogate(command, path, *(["--out", tmp_path / "out"] if command == "run" else []), timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"{path}:5: workload.payload.stream: unknown key" in result.stderr
    assert not (tmp_path / "out").exists()  # no run directory: no server was started


def test_an_unreachable_target_exits_2_with_the_address_and_the_os_error(quick, tmp_path):
    result = slogate("run", quick("gone", []), "--target-url", "http://127.0.0.1:9", "--out", tmp_path / "out")
    assert result.returncode == 2
    # "unreachable for": given up after connect_timeout (3 s); the 15 s ready timeout says "not ready after"
    assert "127.0.0.1:9" in result.stderr and "unreachable for" in result.stderr
    assert "refused" in result.stderr.lower()  # the OS's reason, not a bare timeout


def test_set_overrides_the_scenario(quick, tmp_path):
    path = quick("override", [])
    result = slogate("run", path, "--out", tmp_path / "out", "--set", "workload.phases.0.arrival.rate=20")
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_dirs(tmp_path / "out")
    assert json.loads((run_dir / "summary.json").read_text())["load"]["requests"] == 120


def test_report_rebuilds_from_the_records(quick, tmp_path):
    assert slogate("run", quick("rebuild", ["p50(latency) < 200ms"]), "--out", tmp_path / "out").returncode == 0
    (run_dir,) = run_dirs(tmp_path / "out")
    before = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "report.html").unlink()
    result = slogate("report", run_dir)
    assert result.returncode == 0, result.stderr
    after = json.loads((run_dir / "summary.json").read_text())
    assert (run_dir / "report.html").exists()
    assert after["latency_ms"] == before["latency_ms"] and after["slos"] == before["slos"]


def test_ctrl_c_writes_a_partial_report(quick, tmp_path):
    path = quick("interrupted", ["p50(latency) < 200ms"], duration="60s")
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--out", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _ready_server_pid(process.pid, deadline=time.time() + 90)
    time.sleep(3)  # a few seconds of load
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stdout + stderr
    (run_dir,) = run_dirs(tmp_path / "out")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] and summary["verdict"] == "invalid"
    assert any("interrupted" in reason for reason in summary["load"]["invalid_reasons"])
    assert 0 < summary["load"]["requests"] < 60 * 40


def test_a_dying_target_still_gets_a_report_with_its_errors(quick, tmp_path):
    """Kill the managed server mid-run: every later request is a counted error, not a crash."""
    path = quick("dies", ["availability >= 99%"], duration="8s")
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--out", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server_pid = _ready_server_pid(process.pid, deadline=time.time() + 90)
    time.sleep(2)  # a few seconds of load before the target dies
    os.kill(server_pid, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 1, stdout + stderr
    (run_dir,) = run_dirs(tmp_path / "out")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["errors"]["total"] > 50
    assert set(summary["errors"]["by_kind"]) <= {"connect", "reset"}


def _server_pid(runner_pid: int) -> int | None:
    """The managed reference server started by the `slogate run` process."""
    for child in psutil.Process(runner_pid).children():
        if "reference_server" in child.cmdline():
            return child.pid
    return None


def _ready_server_pid(runner_pid: int, deadline: float) -> int:
    """The managed server once it answers ready: a slow CI box can take longer than any fixed sleep to start it."""
    while time.time() < deadline:
        pid = _server_pid(runner_pid)
        ports = [c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN] if pid else []
        if ports and _answers_ready(ports[0]):
            return pid
        time.sleep(0.2)
    raise AssertionError("the managed server never became ready")


def _answers_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_serve_hands_every_flag_to_the_server(sim_repo) -> None:
    """`slogate serve --model-repo …` reaches the server: an invalid port is the server's error, not argparse's."""
    done = slogate("serve", "--model-repo", sim_repo, "--port", "not-a-port", timeout=60)
    assert done.returncode == 2
    assert "--port: invalid int value" in done.stderr and "reference_server" in done.stderr


def test_serve_help_is_the_servers_help() -> None:
    done = slogate("serve", "--help", timeout=60)
    assert done.returncode == 0 and "--model-repo" in done.stdout


def test_unknown_flags_of_other_commands_are_still_errors(tmp_path) -> None:
    done = slogate("validate", tmp_path / "none.yaml", "--bogus")
    assert done.returncode == 2 and "unrecognized arguments: --bogus" in done.stderr


def test_a_report_that_cannot_be_written_exits_2_and_keeps_the_records(quick, tmp_path):
    """A full disk, as RLIMIT_FSIZE makes one: writes past 100 KiB fail with EFBIG (Python ignores
    SIGXFSZ). The records, ~13 kB, fit; the HTML report, ~230 kB, does not."""
    limit = 100 * 1024

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    path = quick("full-disk", ["p50(latency) < 200ms"])
    result = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=180, preexec_fn=small_files)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot write the report" in result.stderr and "File too large" in result.stderr
    (records,) = (tmp_path / "out").rglob("requests.parquet")
    assert len(pd.read_parquet(records)) == 240  # every request, readable
