"""The harness against a model known only by its metadata (several inputs, INT64, BOOL, BYTES,
a dynamic dimension beside the batch, no baseline statistics), named by the command line
alone: `slogate run --target-url` and `pytest --slogate-target-url`, on a scenario file that
names neither `server` nor `url`. The reference server's `schema` model stands in for a
stranger's in CI; MLServer, a server nobody here wrote, checks every request against the
declared inputs in the slow test."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from benchmarks.peers.venvs import ensure_venv
from harness.scenario.loader import load_scenario
from harness.targets.base import TargetError, build_target

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "server"))
from server_process import SCHEMA_INPUTS, ServerProcess, free_port, write_schema_model  # (tests/server is not a package)

pytestmark = pytest.mark.integration

REQUESTS = 60  # 3 s at 20 req/s
SCHEMA_PEER = ("mlserver-schema", [["mlserver==1.7.1", "uvloop<0.22"]])  # its venv: no torch needed


def scenario(directory: Path, name: str, options: dict, slos: list[str]) -> Path:
    """A scenario without `target.server` or `target.url`: the command line names the endpoint."""
    data = {"name": name, "seed": 4,
            "target": {"model": "schema", "protocol": "oip-v2", "options": options},
            "workload": {"phases": [{"duration": "3s", "arrival": {"process": "constant", "rate": 20}}],
                         "payload": {"generator": "tabular", "rows": 2, "dynamic_size": 5}},
            # about files and payloads, not timing: a busy box must not make the run invalid
            "analysis": {"max_lag_p99": "100ms"},
            "slos": slos}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def slogate_run(path: Path, url: str, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--target-url", url, "--out", str(out)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (summary,) = out.rglob("summary.json")
    return json.loads(summary.read_text())


def assert_metadata_only_payloads_served(summary: dict) -> None:
    assert summary["load"]["requests"] == REQUESTS and summary["errors"]["total"] == 0, summary["errors"]
    assert "no baseline statistics" in summary["payload"]
    for described in ("ids INT64 [2, 3]", "flags BOOL [2, 2]", "text BYTES [2, 1]", "embedding FP32 [2, 5, 4]"):
        assert described in summary["payload"]


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    repo = tmp_path_factory.mktemp("stranger-repo")
    write_schema_model(repo / "schema" / "1")
    proc = ServerProcess(["--model-repo", str(repo)], repo / "server.log").start()
    yield proc
    assert proc.stop() == 0, proc.log()


def test_slogate_run_target_url_sends_binary_tensors_drawn_from_metadata(stranger: ServerProcess,
                                                                         tmp_path: Path) -> None:
    path = scenario(tmp_path / "scenarios", "stranger-binary", {"binary": True}, [])
    summary = slogate_run(path, stranger.url, tmp_path / "out")
    assert_metadata_only_payloads_served(summary)
    assert summary["target"]["kind"] == "url" and summary["target"]["url"] == stranger.url
    report = next((tmp_path / "out").rglob("report.html")).read_text()
    assert "no baseline statistics" in report


def test_pytest_slogate_target_url_gates_the_same_file_over_json(stranger: ServerProcess, tmp_path: Path) -> None:
    path = scenario(tmp_path / "scenarios", "stranger-json", {"binary": False}, ["error_rate < 50%"])
    done = subprocess.run([sys.executable, "-m", "pytest", str(path), "-p", "no:cacheprovider", "-q",
                           "--slogate-target-url", stranger.url, "--slogate-out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    (summary,) = (tmp_path / "out").rglob("summary.json")
    assert_metadata_only_payloads_served(json.loads(summary.read_text()))


def test_without_a_target_url_a_file_that_names_no_endpoint_is_a_target_error(tmp_path: Path) -> None:
    spec = load_scenario(scenario(tmp_path / "scenarios", "stranger-nowhere", {}, [])).target
    with pytest.raises(TargetError, match="neither `target.server` nor `target.url`: give one, or --target-url"):
        build_target(spec, tmp_path / "server.log")


@pytest.mark.slow  # installs MLServer into its own venv on first use (~1.5 min); the reference server's test covers CI
def test_mlserver_accepts_every_request_drawn_from_its_metadata(tmp_path: Path) -> None:
    python = ensure_venv(*SCHEMA_PEER)
    port = free_port()
    with (tmp_path / "mlserver.log").open("wb") as log:
        peer = subprocess.Popen([str(python), str(ROOT / "benchmarks" / "peers" / "mlserver_schema.py"),
                                 "--port", str(port), "--inputs", json.dumps(SCHEMA_INPUTS)],
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, peer)
        path = scenario(tmp_path / "scenarios", "stranger-mlserver", {}, [])
        assert_metadata_only_payloads_served(slogate_run(path, url, tmp_path / "out"))
    finally:
        peer.terminate()
        peer.wait(20)


def _wait_ready(url: str, peer: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert peer.poll() is None, f"MLServer exited with {peer.returncode}"
        try:
            if httpx.get(f"{url}/v2/models/schema/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"MLServer not ready after {timeout_s} s")
