"""A sharded run's plan and its per-shard load figures, without a server: the shards together
send the schedule exactly once, each request with the payload one process would have sent, and
one lagging shard invalidates the run even when the pooled lag looks fine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.load import load_summary, shard_table
from harness.analysis.spec import AnalysisSpec, ShardLoad
from harness.load.dispatch import PreparedPayloads
from harness.load.shards import shard_payloads, shard_schedules
from harness.scenario.loader import ScenarioError, load_scenario
from harness.workload.arrivals import PhaseSchedule


def _schedules(counts: list[int]) -> list[PhaseSchedule]:
    schedules, first = [], 0
    for index, count in enumerate(counts):
        offsets = np.arange(first, first + count, dtype=np.int64) * 1000  # offset = 1000 × the run's request index
        schedules.append(PhaseSchedule(index, f"p{index}", index, index + 1.0, offsets, arrival=None))
        first += count
    return schedules


def _payloads(total: int) -> PreparedPayloads:
    return PreparedPayloads([f"body{i}".encode() for i in range(total)], list(range(total)), [None] * total,
                            [None] * total, [float(i) for i in range(total)])


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 40), min_size=1, max_size=4), procs=st.integers(1, 6))
def test_the_shards_send_every_request_once_with_its_own_payload(counts: list[int], procs: int) -> None:
    schedules, payloads = _schedules(counts), _payloads(sum(counts))
    sent: list[int] = []
    for shard in range(procs):
        mine = shard_schedules(schedules, shard, procs)
        assert [s.index for s in mine] == [s.index for s in schedules]  # every phase, maybe empty
        offsets = np.concatenate([s.offsets_ns for s in mine]) // 1000  # the run's request indices
        bodies = shard_payloads(payloads, shard, procs).bodies
        # the shard's j-th request is the run's request offsets[j] and carries that request's payload
        assert len(bodies) == len(offsets) and bodies == [f"body{i}".encode() for i in offsets]
        assert all(i % procs == shard for i in offsets)
        sent += offsets.tolist()
    assert sorted(sent) == list(range(sum(counts)))


def test_each_shard_gets_its_share_of_every_phase() -> None:
    """Round robin: a 100-request burst is split 50/50, not handed whole to one process."""
    schedules = _schedules([10, 100, 10])
    shares = [[len(s.offsets_ns) for s in shard_schedules(schedules, shard, 2)] for shard in range(2)]
    assert shares == [[5, 50, 5], [5, 50, 5]]


def test_one_lagging_shard_invalidates_the_run_and_is_named() -> None:
    spec = AnalysisSpec(max_lag_p99_ms=1.0, shards=(ShardLoad(0, 300, 300, 300), ShardLoad(1, 300, 300, 300)))
    on_time, behind = np.full(300, 0.05), np.full(300, 0.05)
    behind[:6] = 20.0  # 2% of shard 1's requests 20 ms late: its p99 is 20 ms, the pooled p99 ~0.05 ms + a bit
    lag = np.concatenate([on_time, behind])
    measured = np.ones(600, dtype=bool)
    shards = shard_table(spec, lag, measured, ())
    assert [row["shard"] for row in shards] == [0, 1]
    assert shards[0]["schedule_lag_ms"]["p99"] == pytest.approx(0.05)
    assert shards[1]["schedule_lag_ms"]["max"] == 20.0
    load = load_summary(spec, lag, [], 600, 600, (), shards)
    assert not load["valid"] and load["shards"] == shards
    assert [r for r in load["invalid_reasons"] if r.startswith("shard ")] == [
        "shard 1: schedule lag p99 20 ms > 1 ms: the sending process fell behind its schedule"]


def test_warm_up_requests_do_not_count_toward_a_shards_lag() -> None:
    spec = AnalysisSpec(max_lag_p99_ms=1.0, shards=(ShardLoad(0, 4, 4, 4),))
    lag, measured = np.array([50.0, 0.1, 0.1, 0.1]), np.array([False, True, True, True])
    (row,) = shard_table(spec, lag, measured, ())
    assert row["schedule_lag_ms"]["max"] == pytest.approx(0.1)


def test_a_single_process_run_has_no_shards_section() -> None:
    load = load_summary(AnalysisSpec(), np.full(10, 0.1), [], 10, 10)
    assert "shards" not in load


def test_the_spec_keeps_its_shards_through_summary_json() -> None:
    spec = AnalysisSpec(shards=(ShardLoad(0, 3, 3, 3), ShardLoad(1, 2, 2, 2)))
    assert AnalysisSpec.from_dict(spec.to_dict()).shards == spec.shards


def _scenario(tmp_path, body: str):
    path = tmp_path / "s.yaml"
    path.write_text(body)
    return path


CLOSED = """name: closed
target: {url: "http://127.0.0.1:1", model: m, protocol: oip-v2}
workload:
  procs: 2
  phases:
    - duration: 5s
      arrival: {process: concurrency, concurrency: 4}
"""


def test_a_closed_loop_cannot_be_sharded(tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"s\.yaml:4: workload: .*procs: 2 sending processes .*phase 0 is a closed"):
        load_scenario(_scenario(tmp_path, CLOSED))


def test_a_canary_cannot_be_sharded(tmp_path) -> None:
    canary = (tmp_path / "c.yaml")
    canary.write_text("""name: canary
target: {url: "http://127.0.0.1:1", model: m, protocol: oip-v2}
workload:
  phases:
    - duration: 20s
      arrival: {process: constant, rate: 10}
canary:
  baseline: "1"
  candidate: "2"
  steps: [10%, 50%]
  step_duration: 5s
""")
    with pytest.raises(ScenarioError, match=r"c\.yaml:8: canary: a canary judges each step .*procs: 2 / engine: slogate \(--procs, --engine\)"):
        load_scenario(canary, ["workload.procs=2"])


def test_the_cli_options_are_scenario_keys_checked_before_anything_starts(tmp_path, capsys) -> None:
    from harness.entry.cli import main

    path = _scenario(tmp_path, CLOSED.replace("  procs: 2\n", ""))
    assert main(["run", str(path), "--procs", "2", "--out", str(tmp_path / "out")]) == 2
    assert "s.yaml:4: workload: procs: 2 sending processes" in capsys.readouterr().err  # located, as --set would be
    assert main(["run", str(path), "--workers", "2"]) == 2
    assert "--workers counts locust workers" in capsys.readouterr().err
    assert main(["run", str(path), "--engine", "locust", "--workers", "2"]) == 2
    assert "engine: locust sending processes split an open-loop schedule" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
