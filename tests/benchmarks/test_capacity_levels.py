"""B14's reading of GuideLLM's and vLLM's sweeps, on outputs each tool wrote against the
reference server's tiny-llm (tests/benchmarks/data/README.md says how they were captured),
and the SLO judged on their levels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.capacity_levels import Level, bounds_of, guidellm_levels, highest_passing, misses, vllm_levels
from benchmarks.capacity_tools import SCENARIO, Workload, load_base, url_variant
from harness.scenario.loader import load_scenario

DATA = Path(__file__).parent / "data"
SLOS = ["p50(ttft) < 200ms", "p50(tpot) < 40ms", "availability >= 95%"]


def _json(name: str):
    return json.loads((DATA / name).read_text())


def test_guidellm_sweep_levels_are_its_benchmarks_in_order_placed_by_rate() -> None:
    report = _json("guidellm_sweep.json")
    levels = guidellm_levels(report)
    kinds = [b["config"]["strategy"]["type_"] for b in report["benchmarks"]]
    assert [level.label.split("@")[0] for level in levels] == kinds
    assert kinds[:2] == ["synchronous", "throughput"] and set(kinds[2:]) == {"poisson"}
    first, *_, last = report["benchmarks"]
    # the synchronous end sets no rate: it sits at its measured throughput; Poisson levels at their rate
    assert levels[0].rate == first["metrics"]["requests_per_second"]["successful"]["mean"]
    assert levels[-1].rate == last["config"]["strategy"]["rate"]
    assert levels[-1].ttft_p50_ms == last["metrics"]["time_to_first_token_ms"]["successful"]["percentiles"]["p50"]
    assert levels[-1].tpot_p50_ms == last["metrics"]["inter_token_latency_ms"]["successful"]["percentiles"]["p50"]
    assert all(level.availability == 1.0 for level in levels)  # no request errored in that run


def test_vllm_sweep_levels_place_its_ends_by_throughput_and_the_rest_by_rate() -> None:
    runs = _json("vllm_serve_workload.json")
    levels = vllm_levels(runs)
    # serial first, the rates between, every prompt at once (concurrency capped at the prompt count) last
    assert levels[0].label == "max_concurrency=1" and levels[-1].label == f"max_concurrency={runs[-1]['num_prompts']}"
    assert levels[0].rate == runs[0]["request_throughput"] and levels[-1].rate == runs[-1]["request_throughput"]
    middle = levels[1:-1]
    assert middle and all(level.rate == float(run["request_rate"]) for level, run in zip(middle, runs[1:-1],
                                                                                          strict=True))
    assert [level.ttft_p50_ms for level in levels] == [run["median_ttft_ms"] for run in runs]
    assert [level.completed for level in levels] == [run["completed"] for run in runs]


def _level(rate: float, ttft: float = 50.0, tpot: float = 10.0, availability: float = 1.0) -> Level:
    return Level(f"r{rate:g}", rate, ttft, tpot, availability, 100)


def test_the_capacity_is_the_highest_level_meeting_every_slo_not_the_last_one_run() -> None:
    bounds = bounds_of(SLOS)
    levels = [_level(1), _level(4), _level(9, ttft=450), _level(6, availability=0.9), _level(3)]
    assert highest_passing(levels, bounds).rate == 4
    assert misses(levels[3], bounds) == ["availability >= 95%"]
    assert misses(_level(2, ttft=200, tpot=40), bounds) == ["p50(ttft) < 200ms", "p50(tpot) < 40ms"]  # strict <
    assert highest_passing([_level(2, tpot=41)], bounds) is None


def test_an_slo_the_sweeps_cannot_judge_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"p99\(ttft\) < 1s"):
        bounds_of(["p99(ttft) < 1s"])


@given(st.lists(st.tuples(st.floats(0.1, 100), st.floats(0, 400), st.floats(0, 80), st.floats(0.5, 1)), max_size=12))
def test_highest_passing_meets_every_slo_and_no_passing_level_lies_above_it(rows) -> None:
    bounds = bounds_of(SLOS)
    levels = [_level(*row) for row in rows]
    best = highest_passing(levels, bounds)
    passing = [level for level in levels if level.ttft_p50_ms < 200 and level.tpot_p50_ms < 40
               and level.availability >= 0.95]
    if not passing:
        assert best is None
    else:
        assert not misses(best, bounds) and best.rate == max(level.rate for level in passing)


def test_the_url_variant_is_the_scenario_against_the_url_and_a_recheck_replaces_its_phases(tmp_path: Path) -> None:
    base = load_base()
    assert Workload.of(base) == Workload((16, 64), (16, 48))
    phase = {"name": "recheck", "duration": "17s", "arrival": {"process": "poisson", "rate": 6.5}}
    path = tmp_path / "recheck.yaml"
    path.write_text(url_variant(base, "http://127.0.0.1:9", tmp_path, "recheck", phase, 2))
    scenario = load_scenario(path)
    original = load_scenario(SCENARIO)
    assert scenario.target.url == "http://127.0.0.1:9" and scenario.slos == original.slos
    (only,) = scenario.workload.phases
    assert only.arrival.rate == 6.5 and scenario.workload.duration_s == 17 and scenario.workload.warmup == 2
    assert scenario.workload.payload.ignore_eos and scenario.workload.payload.tokenizer == tmp_path
