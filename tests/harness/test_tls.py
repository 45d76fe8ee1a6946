"""HTTPS end to end: the reference server with --tls-cert/--tls-key, and the harness measuring it
through target.tls, with a self-signed certificate made for the test."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.targets.certificate import self_signed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from server_process import ServerProcess  # (tests/server is not a package)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def https_server(sim_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder)
    proc = ServerProcess(["--model-repo", str(sim_repo), "--tls-cert", str(cert), "--tls-key", str(key)],
                         folder / "server.log", tls_ca=cert).start()
    yield proc
    assert proc.stop() == 0, proc.log()


def run(tmp_path: Path, url: str, tls: dict | None) -> subprocess.CompletedProcess:
    target = {"url": url, "model": "const10", "protocol": "oip-v2", **({"tls": tls} if tls is not None else {})}
    scenario = {"name": "https", "seed": 1, "target": target, "slos": ["error_rate < 10%"],
                "workload": {"phases": [{"duration": "3s", "arrival": {"process": "constant", "rate": 20}}]},
                "analysis": {"max_lag_p99": "50ms"}}
    path = tmp_path / "https.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)


def test_the_harness_measures_an_https_server_it_verifies_with_a_ca_bundle(https_server: ServerProcess,
                                                                           tmp_path: Path) -> None:
    assert https_server.url.startswith("https://")
    result = run(tmp_path, https_server.url, {"ca_bundle": str(https_server.tls_ca)})
    assert result.returncode == 0, result.stdout + result.stderr
    (summary,) = (json.loads(path.read_text()) for path in (tmp_path / "out").rglob("summary.json"))
    assert summary["load"]["requests"] == 60 and summary["errors"]["total"] == 0


def test_a_certificate_nobody_vouches_for_is_refused_before_any_load(https_server: ServerProcess,
                                                                     tmp_path: Path) -> None:
    result = run(tmp_path, https_server.url, None)  # the system's CAs do not know the test's certificate
    assert result.returncode == 2
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.stderr
    assert "unreachable for" not in result.stderr  # refused at the first answer, not after the connect timeout
    assert not list((tmp_path / "out").rglob("requests.parquet"))


def test_verify_false_encrypts_without_authenticating(https_server: ServerProcess, tmp_path: Path) -> None:
    result = run(tmp_path, https_server.url, {"verify": False})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
    (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "--tls-cert: missing.pem is not a readable file"),
])
def test_half_a_tls_configuration_is_refused_at_start(args: list[str], message: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "reference_server", *args], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode != 0 and message in result.stderr
