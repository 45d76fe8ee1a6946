"""A `locust_users` phase's mistakes are scenario errors (file:line:field, exit 2) found before
any server starts: users <= 0, an unknown or doubled wait function, locust's users without the
locust engine or beside another kind of phase, and a closed loop of slogate's own under locust."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.entry.cli import main
from harness.scenario.loader import ScenarioError, load_scenario

SCENARIO = """name: users
target: {url: "http://127.0.0.1:1", model: m, protocol: oip-v2}
workload:
  engine: locust
  phases:
    - duration: 5s
      arrival: {process: locust_users, users: 4, spawn_rate: 2, wait: {constant_throughput: 5}}
"""
ARRIVAL = "{process: locust_users, users: 4, spawn_rate: 2, wait: {constant_throughput: 5}}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_a_valid_phase_loads_with_its_users_and_locust_wait_function(tmp_path) -> None:
    arrival = load_scenario(_write(tmp_path, SCENARIO)).workload.phases[0].arrival
    assert (arrival.user_count(), arrival.users_per_s, arrival.open_loop) == (4, 2.0, False)
    assert arrival.wait.call() == ("constant_throughput", (5.0,))


@pytest.mark.parametrize("arrival, message", [
    ("{process: locust_users, users: 0, wait: {constant: 1s}}",
     r"s\.yaml:7: workload\.phases\[0\]\.arrival\.users: Input should be greater than 0"),
    ("{process: locust_users, users: 2, wait: {constant_throughput: 0}}",
     r"s\.yaml:7: workload\.phases\[0\]\.arrival\.wait\.constant_throughput: Input should be greater than 0"),
    ("{process: locust_users, users: 2, wait: {constant_throughpt: 5}}",
     (r"s\.yaml:7: workload\.phases\[0\]\.arrival\.wait\.constant_throughpt: unknown key; "
      r"did you mean 'constant_throughput'\?")),
    ("{process: locust_users, users: 2, wait: {constant: 1, between: [1, 2]}}",
     r"s\.yaml:7: workload\.phases\[0\]\.arrival\.wait: name exactly one wait-time function .*\(got between, constant\)"),
    ("{process: locust_users, users: 2, wait: {between: [2s, 1s]}}",
     r"s\.yaml:7: workload\.phases\[0\]\.arrival\.wait: between: \[min, max\] needs min <= max"),
    ("{process: locust_users, users: 2}", r"s\.yaml:7: workload\.phases\[0\]\.arrival\.wait: required"),
    ("{process: concurrency, concurrency: 4}",
     (r"s\.yaml:4: workload: engine: locust sending processes split an open-loop schedule; phase 0 is a closed "
      r"loop .*\(process: locust_users, engine: locust\)")),
])
def test_a_bad_phase_is_named_by_file_line_and_field(tmp_path, arrival: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(_write(tmp_path, SCENARIO.replace(ARRIVAL, arrival)))


def test_locust_users_share_their_run_with_no_other_phase(tmp_path) -> None:
    mixed = SCENARIO + "    - {duration: 5s, arrival: {process: constant, rate: 10}}\n"
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: workload: phases\[1\]\.arrival\.process: constant cannot "
                                            r"share a run with locust's own users"):
        load_scenario(_write(tmp_path, mixed))


def test_locust_users_without_the_locust_engine_is_exit_2_before_any_server_starts(tmp_path, capsys) -> None:
    path = _write(tmp_path, SCENARIO.replace("  engine: locust\n", ""))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert ("s.yaml:4: workload: phases[0].arrival.process: locust_users is run by locust's own users: it needs "
            "engine: locust (--engine locust), not engine: slogate") in capsys.readouterr().err
    assert main(["run", str(path), "--procs", "2", "--out", str(out)]) == 2  # slogate's processes: not locust's
    assert "it needs engine: locust" in capsys.readouterr().err
    assert not out.exists()  # refused before a run directory, a server or a locust process


def test_locust_users_run_on_workers_started_here(tmp_path) -> None:
    remote = SCENARIO.replace("  engine: locust\n", "  engine: locust\n  procs: 2\n"
                              "  locust: {bind: '0.0.0.0:5557', local_workers: 1}\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: workload: locust\.local_workers: locust's own users "
                                            r"\(process: locust_users\) run on workers started here"):
        load_scenario(_write(tmp_path, remote))
