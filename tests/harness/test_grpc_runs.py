"""A whole run over gRPC: a managed server reached on its --grpc-port under a security mix and a
fault burst, judged from the same records an HTTP run makes.

Slow (tox -e slow): CI covers the gRPC client against a managed server with auth in
test_oip_grpc_client.py, and the security mix and fault bursts over HTTP in chaos_auth.yaml
and test_chaos_runs.py; this is their product, ~45 s."""

from __future__ import annotations

import pytest
from test_chaos_runs import LAG, poisson, slogate_run, verdicts

pytestmark = pytest.mark.slow


def test_a_grpc_run_refuses_bad_credentials_and_records_the_fault(sim_repo, tmp_path, make_scenario) -> None:
    workload = {**poisson("6s", 40), "security": {"share": "30%", "kinds": ["no_key", "wrong_key", "bad_signature",
                                                                          "expired", "replayed"]}}
    path = make_scenario(tmp_path, None, "const10", name="grpc-run",
                         target={"server": "reference", "model": "const10", "model_repo": str(sim_repo),
                                 "protocol": "oip-v2-grpc", "auth": {}},
                         workload=workload,
                         faults=[{"action": "error", "at": "3s", "for": "1s", "status": 503, "name": "burst"}],
                         slos=["auth_bypass_count <= 0", "auth_misrefused_count <= 0"],
                         analysis=LAG)
    _, summary = slogate_run(path, tmp_path / "out", 120)
    assert summary["target"]["protocol"] == "oip-v2-grpc"
    kinds = summary["security"]["kinds"]
    assert all(kinds[kind]["refused_share"] == 1.0 for kind in kinds if kind != "good"), kinds
    assert set(summary["errors"]["by_status"]) == {"401", "503"}  # the refusals and the burst, nothing else
    assert kinds["good"]["other_failures"] == summary["errors"]["by_status"]["503"] > 0
    # the verdicts, not the exit code: a box busy enough to make the generator fall behind marks the run invalid
    assert set(verdicts(summary).values()) == {"pass"}, verdicts(summary)
