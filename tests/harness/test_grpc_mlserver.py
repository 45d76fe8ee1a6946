"""The oip-v2-grpc client against a server nobody here wrote: MLServer 1.7.1 serving the fraud
model (B3's peer, benchmarks/peers/mlserver_fraud.py) on its own gRPC port, measured through
`--target-url grpc://...` from its ModelMetadata alone (no baseline: N(0,1) rows)."""

from __future__ import annotations

import math
from pathlib import Path

import platformdirs
import pytest

from benchmarks.b3_server_throughput import MLSERVER, PEERS
from benchmarks.fraud_export import prepare
from benchmarks.peers.venvs import ensure_venv
from benchmarks.processes import ServerCommand, free_port, serving
from benchmarks.slogate_cli import run_slogate

pytestmark = pytest.mark.integration

SCENARIO = """\
name: mlserver-grpc
seed: 6
target: {model: fraud, protocol: oip-v2-grpc}
workload:
  phases:
    - {duration: 3s, arrival: {process: constant, rate: 20}}
  payload: {generator: tabular, rows: 2}
analysis: {max_lag_p99: 100ms}   # about the protocol, not timing: a busy box must not make the run invalid
slos: []
"""


@pytest.mark.slow  # builds MLServer's venv with torch on first use (minutes); against the reference server CI covers it
def test_mlserver_is_measured_over_grpc(tmp_path: Path) -> None:
    python = ensure_venv(*MLSERVER)
    _, torchscript, _, _ = prepare(Path(platformdirs.user_cache_dir("slogate")), tmp_path)
    http_port, grpc_port = free_port(), free_port()
    command = ServerCommand("mlserver-grpc", [str(python), str(PEERS / "mlserver_fraud.py"), "--model", str(torchscript),
                                              "--port", str(http_port), "--grpc-port", str(grpc_port)],
                            http_port, "/v2/health/ready")
    with serving(command, tmp_path):
        run = run_slogate("mlserver-grpc", SCENARIO, f"grpc://127.0.0.1:{grpc_port}", tmp_path / "runs")
    summary, records = run.summary, run.records()
    assert summary["target"]["protocol"] == "oip-v2-grpc"
    assert len(records) == summary["load"]["requests"] >= 50 and summary["errors"]["total"] == 0, summary["errors"]
    assert records["prediction"].map(lambda p: 0.0 <= p <= 1.0 and not math.isnan(p)).all()  # fraud probabilities
