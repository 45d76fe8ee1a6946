"""`kill_replica` under load against a managed `engine: ray` server with two replicas: the harness
kills one replica's process, Serve replaces it, and the chaos section says how long that took
and which requests failed meanwhile. Tagged `ray` (tox -e ray): Ray alone starts in ~40 s here."""

from __future__ import annotations

import math

import pytest
from test_chaos_runs import LAG, poisson, slogate_run, verdicts

pytestmark = [pytest.mark.ray, pytest.mark.integration, pytest.mark.chaos]


def test_a_killed_replica_is_replaced_and_the_chaos_section_times_it(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "const10", name="ray-replica-kill", workload=poisson("45s", 30),
                         faults=[{"action": "kill_replica", "at": "6s", "replica": 1, "name": "lost"}],
                         slos=["availability >= 90% in after", "restart_time < 120s"],
                         analysis={**LAG, "recovery": {"hold": "3s", "allowance": "3s"}})
    path.write_text(path.read_text().replace("protocol: oip-v2", "protocol: oip-v2\n  engine: ray\n  replicas: 2\n"
                                             "  ready_timeout: 240s"))
    _, summary = slogate_run(path, tmp_path / "out", 400)  # its exit code says how the box kept up, not Ray
    (fault,) = summary["chaos"]["faults"]
    assert fault["action"] == "kill_replica" and fault["outcome"].startswith("replica ")
    assert fault["outcome"].endswith(" of 2")
    assert fault["end_s"] is not None, "Serve never replaced the replica"
    assert 0 < fault["restart_time_ms"] and math.isfinite(fault["restart_time_ms"])
    assert set(fault["failed_during"]) >= {"total"}  # in flight on the dead replica, or sent it before Serve knew
    assert verdicts(summary)[("availability >= 90% in after", "after")] == "pass", summary["slos"]
    assert list((tmp_path / "out").glob("*/*/report.html"))
