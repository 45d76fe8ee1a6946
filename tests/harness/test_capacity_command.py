"""`slogate capacity` against the real reference server, on a sim model whose capacity is
known (two slots of 10 ms: 200 answers a second at most), and its errors before any load."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SLOGATE = [sys.executable, "-m", "harness"]
TRUE_CAPACITY = 200.0  # req/s: 2 slots / 10 ms, less the HTTP overhead (~175 measured here)
C7I_LARGE = 0.08925  # $/h in the shipped catalog


def capacity(path: Path, out: Path, *extra: str, timeout_s: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*SLOGATE, "capacity", str(path), "--out", str(out), *extra], capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.mark.integration
def test_the_search_brackets_a_known_capacity_and_prices_it(sim_repo, tmp_path, make_scenario) -> None:
    path = make_scenario(tmp_path, sim_repo, "slots2", name="known-capacity",
                         workload={"phases": [{"duration": "5s", "arrival": {"process": "poisson", "rate": 60}}]},
                         slos=["p90(latency) < 100ms"], analysis={"max_lag_p99": "15ms"},
                         capacity={"start": 60, "bisections": 1, "max_steps": 4, "step_duration": "4s",
                                   "max_step_duration": "4s", "warmup": "1s", "confirm_misses": False},
                         cost={"instance": "aws-c7i.large"})
    done = capacity(path, tmp_path / "out", "--peak", "1000")
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = (tmp_path / "out").glob("known-capacity/*/capacity.json")
    summary = json.loads(report.read_text())
    steps = {s["rate"]: s for s in summary["steps"]}
    assert list(steps) == [60, 120, 240, 170]  # doubling until a miss, then one geometric bisection
    found = summary["bracket"]
    assert found["highest_pass"] in (120, 170) and found["highest_pass"] < TRUE_CAPACITY  # never certified past it
    assert found["lowest_miss"] in (170, 240) and found["lowest_miss"] > found["highest_pass"]
    past = steps[240]
    assert past["outcome"] == "fail" and past["figures"]["saturation"]["saturated"], past["figures"]["saturation"]
    assert past["figures"]["completed_rps"] < TRUE_CAPACITY * 1.05  # it cannot answer more than its slots allow
    for step in summary["steps"]:
        met = all(v["verdict"] == "pass" for v in step["verdicts"])
        assert step["outcome"] != "pass" or met, step["why"]
        assert step["outcome"] == "pass" or not met or step["why"].startswith("over-saturated"), step["why"]
        assert (Path(step["run_dir"]) / "summary.json").exists()
        assert (Path(step["run_dir"]) / "summary.json").read_text().count('"cost_per_1k"') >= 1  # each step is priced
    per_replica = summary["capacity"]["per_replica_rps"]
    assert per_replica == found["highest_pass"]
    assert summary["replicas"]["replicas"] == math.ceil(1000 * 1.3 / per_replica)
    (row,) = summary["cost"]
    assert row["instance"] == "aws-c7i.large" and row["cost_per_1k_at_slo"] == pytest.approx(C7I_LARGE / 3.6 / per_replica)
    page = (report.parent / "capacity.html").read_text()
    assert 'id="steps"' in page and "data:image/png;base64," in page and (report.parent / "capacity_curve.png").exists()
    assert summary["knee"] is not None and summary["knee"]["throughput"] <= TRUE_CAPACITY * 1.05


def scenario(tmp_path: Path, arrival: str, extra: str = "") -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(f"""name: bad
target: {{server: reference, model: fraud}}
workload:
  phases:
    - duration: 5s
      arrival: {arrival}
slos: [p99(latency) < 10ms]
{extra}""")
    return path


@pytest.mark.parametrize(("arrival", "extra", "message"), [
    ("{process: ramp, from: 10, to: 100}", "", ":6: workload.phases[0].arrival.process: a capacity search turns"),
    ("{process: poisson, rate: 10}", "faults:\n  - {action: latency, at: 1s, ms: 5}\n",
     ":9: faults: a capacity search runs no fault timeline"),
], ids=["no-knob", "faults"])
def test_a_scenario_the_search_cannot_turn_is_exit_2_at_its_line(tmp_path, arrival, extra, message) -> None:
    path = scenario(tmp_path, arrival, extra)
    done = capacity(path, tmp_path / "out", timeout_s=60)
    assert done.returncode == 2 and f"{path}{message}" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_an_unknown_instance_is_exit_2_naming_the_catalog(tmp_path) -> None:
    done = capacity(scenario(tmp_path, "{process: poisson, rate: 10}"), tmp_path / "out", "--instance", "aws-g5.xlargee",
                    timeout_s=60)
    assert done.returncode == 2 and "no instance 'aws-g5.xlargee'; did you mean 'aws-g5.xlarge'" in done.stderr


def test_quick_bounds_every_step(tmp_path) -> None:
    from harness.entry.capacity_cli import QUICK
    from harness.experiments.capacity.settings import CapacitySettings

    settings = CapacitySettings.model_validate(QUICK)
    assert settings.max_steps * (settings.max_step_duration + settings.warmup) <= 30
    assert yaml.safe_load(yaml.safe_dump(QUICK)) == QUICK
