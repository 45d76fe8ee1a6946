"""A drift experiment that cannot work is exit 2 naming its field: before any server starts
where the scenario alone shows it, before any load where only the target's schema does."""

from __future__ import annotations

import pytest

from harness.scenario.loader import ScenarioError, load_scenario
from tests.harness.test_cli import slogate


def drift_scenario(tmp_path, make_scenario, repo, drift: list[dict], monitor: dict | None = None, name: str = "drift"):
    extra = {} if monitor is None else {"drift_monitor": monitor}
    return make_scenario(tmp_path, repo, "const10", name=name, **extra,
                         workload={"phases": [{"duration": "3s", "arrival": {"process": "constant", "rate": 20}}],
                                   "payload": {"generator": "tabular", "drift": drift}})


def test_a_drift_monitor_needs_tabular_inputs(tmp_path, make_scenario, sim_repo):
    path = make_scenario(tmp_path, sim_repo, "const10", name="prompts", drift_monitor={},
                         workload={"phases": [{"duration": "3s", "arrival": {"process": "constant", "rate": 5}}],
                                   "payload": {"generator": "prompts", "drift": [{"at": "1s", "input_tokens": 512}]}})
    with pytest.raises(ScenarioError, match=r"drift_monitor: a drift monitor scores tabular inputs: workload.payload "
                                            r"is 'prompts'"):
        load_scenario(path)


@pytest.mark.parametrize(("drift", "monitor", "where", "message"), [
    ([{"at": "1s", "feature": "f0", "shift": 1, "scale": 2}], None, "workload.payload.drift[0]", "got shift, scale"),
    ([{"at": "1s", "feature": "f0", "frequencies": {"1": 0.7, "0": 0.6}}], None, "workload.payload.drift[0]",
     "more than 100%"),
    ([{"at": "4s", "feature": "f0", "shift": 1}], {}, "workload.payload.drift[0].at", "before this drift begins"),
    ([], {}, "drift_monitor", "there is no drift to monitor"),
    ([{"at": "1s", "feature": "f0", "shift": 1}], {"thresholds": {"wasserstien_norm": 0.1}}, "drift_monitor.thresholds",
     "wasserstein_norm"),
])
def test_a_drift_that_cannot_work_exits_2_naming_the_field(tmp_path, make_scenario, sim_repo, drift, monitor, where,
                                                           message):
    path = drift_scenario(tmp_path, make_scenario, sim_repo, drift, monitor)
    with pytest.raises(ScenarioError) as caught:  # what `slogate validate` prints, exit 2 (test_cli.py)
        load_scenario(path)
    assert f"{path}:" in str(caught.value) and where in str(caught.value) and message in str(caught.value)


@pytest.mark.integration
def test_a_feature_the_model_does_not_take_is_exit_2_before_any_load(tmp_path, make_scenario, sim_repo):
    path = drift_scenario(tmp_path, make_scenario, sim_repo, [{"at": "1s", "feature": "amount", "shift": 1}])
    result = slogate("run", path, "--out", tmp_path / "out", timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "workload.payload: drift[0]: 'amount' is not an input feature (f0, f1, f2, f3)" in result.stderr
    assert not list((tmp_path / "out").rglob("requests.parquet"))  # nothing was sent
