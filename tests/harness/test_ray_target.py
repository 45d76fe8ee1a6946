"""`target: {server: reference, engine: ray, replicas: N}` and the `kill_replica` fault: load-time
errors name file, line and field, before any server starts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.scenario.loader import ScenarioError, load_scenario
from harness.targets.base import build_target

BASE = """\
name: ray
target:
  server: reference
  model: fraud
  engine: ray
  replicas: 2
workload:
  phases:
    - {duration: 30s, arrival: {process: poisson, rate: 20}}
faults:
  - {action: kill_replica, at: 10s, replica: 1}
slos:
  - availability >= 99%
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ray.yaml"
    path.write_text(text)
    return path


@pytest.mark.ray  # loading an `engine: ray` scenario needs Ray installed
def test_a_managed_server_on_ray_is_started_with_its_replicas(tmp_path: Path):
    scenario = load_scenario(write(tmp_path, BASE))
    target = build_target(scenario.target, tmp_path / "server.log")
    command = target.command
    assert command[command.index("--engine") + 1] == "ray"
    assert command[command.index("--replicas") + 1] == "2"


@pytest.mark.parametrize(("old", "new", "where", "says"), [
    ("  replicas: 2\n", "  replicas: 4-2\n", ":6: target.replicas:", "MIN <= MAX"),
    ("  replicas: 2\n", "  replicas: two\n", ":6: target.replicas:", "should match pattern"),
    ("  engine: ray\n", "", ":3: target:", "replicas: only `engine: ray` runs replicas"),
    ("  engine: ray\n  replicas: 2\n", "", ":9: faults[0].action:", "this target's engine is uvicorn"),
    ("  server: reference\n", "  url: http://127.0.0.1:9\n", ":3: target:", "engine: slogate chooses"),
    ("  model: fraud\n", "  model: fraud\n  protocol: oip-v2-grpc\n", ":3: target:", "speaks HTTP only"),
])
def test_mistakes_name_the_field(tmp_path: Path, old: str, new: str, where: str, says: str,
                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # CI has no Ray: its mistakes must be named all the same
    path = write(tmp_path, BASE.replace(old, new))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert where in str(error.value) and says in str(error.value)


def test_without_ray_installed_the_scenario_is_refused_naming_target_engine(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # how Python itself marks a module as not importable
    with pytest.raises(ScenarioError) as error:
        load_scenario(write(tmp_path, BASE))
    assert ":5: target.engine:" in str(error.value) and "pip install 'slogate[ray]'" in str(error.value)
