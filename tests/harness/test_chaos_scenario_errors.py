"""A game day's mistakes are load-time errors naming file, line and field: before any server
starts or any fault is injected."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenario.loader import ScenarioError, load_scenario

BASE = """\
name: chaos
target:
  server: reference
  model: fraud
workload:
  phases:
    - {duration: 30s, arrival: {process: poisson, rate: 50}}
faults:
  - {action: kill, at: 10s, name: kill}
slos:
  - availability >= 99%
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "chaos.yaml"
    path.write_text(text)
    return path, load_scenario(path)


@pytest.mark.parametrize(("old", "new", "where", "says"), [
    ("{action: kill, at: 10s, name: kill}", "{action: kill, at: 10s, for: 5s}", ":9: faults[0].for:",
     "lasts until the server is ready again"),
    ("  server: reference\n", "  url: http://127.0.0.1:9\n", ":9: faults[0].action:", "needs a managed target"),
    ("  - availability >= 99%", "  - availability >= 99% in after(kil)", ":11: slos[0]:", "did you mean 'kill'"),
    ("  - availability >= 99%", "  - availability >= 99% in afterwards", ":11: slos[0]:", "unknown window"),
    ("{action: kill, at: 10s, name: kill}", "{action: kill, at: 10s, name: k}\n  - {action: term, at: 20s, name: k}",
     ":10: faults[1].name:", "another fault is named 'k'"),
    ("  model: fraud\n", "  model: fraud\n  restart: sometimes\n", ":5: target.restart:", "never"),
    ("{action: kill, at: 10s, name: kill}", "{action: network, toxic: latency, latency: fast, at: 1s}",
     ":9: faults[0].latency:", "valid integer"),
    ("{action: kill, at: 10s, name: kill}", "{action: network, toxic: latenzy, at: 1s}", ":9: faults[0]:",
     "did you mean 'latency'"),
    ("{action: kill, at: 10s, name: kill}", "{action: network, toxic: reset_peer, toxicity: 1.5, at: 1s}",
     ":9: faults[0].toxicity:", "less than or equal to 1"),
    ("{action: kill, at: 10s, name: kill}", "{action: cpu_hog, at: 1s, cores: 0}", ":9: faults[0].cores:",
     "greater than or equal to 1"),
    ("{action: kill, at: 10s, name: kill}", "{action: cpu_hog, at: 1s, limit: 0.001}", ":9: faults[0].limit:",
     "greater than or equal to 0.01"),
    ("{action: kill, at: 10s, name: kill}", "{action: cpu_hog, at: 1s, weigth: 1}", ":9: faults[0].weigth:",
     "did you mean 'weight'"),
    ("{action: kill, at: 10s, name: kill}", "{action: memory, at: 1s}", ":9: faults[0].mb:", "required"),
    ("  model: fraud\n", "  model: fraud\n  proxy: {listen: 0.0.0.0:8000}\n", ":5: target.proxy.listen:", "pattern"),
    ("{action: kill, at: 10s, name: kill}", "{action: tamper, at: 1s, model: fraud, version: '2'}",
     ":9: faults[0].action:", "set target.private_repo: true"),
    ("{action: kill, at: 10s, name: kill}", "{action: tamper, at: 1s, model: fraud}", ":9: faults[0].version:",
     "required"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, old: str, new: str, where: str, says: str) -> None:
    assert old in BASE
    with pytest.raises(ScenarioError) as error:
        load(tmp_path, BASE.replace(old, new))
    message = str(error.value)
    assert where in message and says in message, message


def test_a_window_needs_a_fault_timeline(tmp_path: Path) -> None:
    text = BASE.replace("faults:\n  - {action: kill, at: 10s, name: kill}\n", "").replace(
        "  - availability >= 99%", "  - availability >= 99% in after(kill)")
    with pytest.raises(ScenarioError, match=r":9: slos\[0\]: names fault 'kill', but the scenario has no `faults:`"):
        load(tmp_path, text)


def test_a_proxy_needs_a_fault_timeline(tmp_path: Path) -> None:
    text = BASE.replace("faults:\n  - {action: kill, at: 10s, name: kill}\n", "").replace(
        "  model: fraud\n", "  model: fraud\n  proxy: {engine: builtin}\n")
    with pytest.raises(ScenarioError, match=r":5: target.proxy: the fault proxy belongs to the fault timeline"):
        load(tmp_path, text)
    _, scenario = load(tmp_path, text + "faults: []\n")
    assert scenario.faults == []


def test_restart_is_for_managed_servers(tmp_path: Path) -> None:
    text = BASE.replace("  server: reference\n", "  url: http://127.0.0.1:9\n  restart: always\n").replace(
        "  - {action: kill, at: 10s, name: kill}", "  - {action: error, at: 10s, for: 1s}")
    with pytest.raises(ScenarioError, match="only a managed server"):
        load(tmp_path, text)


def test_the_shipped_game_days_load(tmp_path: Path) -> None:
    for path in sorted(Path("scenarios").glob("chaos_*.yaml")):
        scenario = load_scenario(path)
        disturbances = [phase for phase in scenario.workload.phases if phase.disturbance]  # a herd's burst
        assert scenario.faults or disturbances or scenario.workload.security, path  # or bad requests among good
        assert all(fault.name for fault in scenario.faults or ()) and all(phase.name for phase in disturbances), path
