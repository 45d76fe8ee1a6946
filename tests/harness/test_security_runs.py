"""A signing server checks admin calls too: the fault timeline's calls are signed afresh, so
a game day can break a server that signs, and its good requests stay good."""

from __future__ import annotations

from test_chaos_runs import LAG, poisson, slogate_run


def test_faults_reach_a_server_that_checks_keys_and_signatures(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="signed-faults", workload=poisson("6s", 30),
                         faults=[{"action": "error", "at": "2s", "for": "2s", "status": 503, "name": "burst"}],
                         slos=["availability >= 99% in run"], analysis=LAG)
    code, summary = slogate_run(path, tmp_path / "out", 120, "--set", "target.auth={}")
    assert not summary["load"]["invalid_reasons"], summary["load"]
    assert summary["errors"]["by_status"].get("503", 0) > 20 and "401" not in summary["errors"]["by_status"]
    assert summary["security"]["kinds"]["good"]["requests"] == summary["load"]["requests"]
    assert code == 1  # the burst, inside the run window
