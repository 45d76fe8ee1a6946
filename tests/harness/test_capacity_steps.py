"""One capacity step: which knob the search turns, how long a step must be to certify the
scenario's SLOs, and the floor below which no step could."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.experiments.capacity.settings import CapacitySettings
from harness.outer.capacity_steps import (COUNT_MARGIN, certifiable_floor, certifying_requests, knob_of,
                                          step_duration, step_scenario)
from harness.scenario.loader import load_scenario


def scenario(tmp_path: Path, arrival: str, slos: list[str]):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: s
        target: {{url: "http://127.0.0.1:9", model: m}}
        workload:
          phases:
            - {{name: first, duration: 30s, arrival: {arrival}}}
            - {{name: second, duration: 30s, arrival: {{process: constant, rate: 5}}}}
          warmup: 5s
        slos: {slos}
        """))
    return load_scenario(path)


def test_the_knob_is_the_first_phases_rate_or_concurrency(tmp_path) -> None:
    assert knob_of(scenario(tmp_path, "{process: poisson, rate: 10}", [])) == "rate"
    assert knob_of(scenario(tmp_path, "{process: gamma, rate: 10, burstiness: 0.5}", [])) == "rate"
    assert knob_of(scenario(tmp_path, "{process: concurrency, concurrency: 4}", [])) == "concurrency"
    assert knob_of(scenario(tmp_path, "{process: ramp, from: 1, to: 9}", [])) is None


@pytest.mark.parametrize(("slos", "needed"), [
    ([], 0),
    (["p99(latency) < 25ms"], 5 * 299),  # LoadGen's zero-violation minimum for p99 at 95%, five times
    (["p50(ttft) < 1s", "p90(latency) < 25ms"], 5 * 29),
    (["p10(latency) > 1ms"], 5 * 29),  # a lower-tail percentile certifies its other tail
    (["error_rate < 0.1%"], 2995),  # a ratio needs its minimum: a healthy service has no failures
    (["availability >= 99%", "p99(latency) < 25ms"], 5 * 299),
    (["throughput >= 10/s", "mean(latency) < 5ms"], 0),
])
def test_a_step_holds_the_requests_its_slos_need(tmp_path, slos, needed) -> None:
    assert certifying_requests(scenario(tmp_path, "{process: poisson, rate: 10}", slos)) == needed


def test_step_length_and_floor_follow_the_need_within_the_bounds(tmp_path) -> None:
    s = scenario(tmp_path, "{process: poisson, rate: 10}", ["p99(latency) < 25ms"])
    settings = CapacitySettings(step_duration=5, max_step_duration=60)
    assert step_duration(s, settings, "rate", 1000) == 5.0  # 1,645 requests take 1.6 s: the minimum holds
    assert step_duration(s, settings, "rate", 100) == pytest.approx(COUNT_MARGIN * 1495 / 100)
    assert step_duration(s, settings, "rate", 10) == 60.0
    assert certifiable_floor(s, settings, "rate") == pytest.approx(COUNT_MARGIN * 1495 / 60)
    assert certifiable_floor(s, settings, "concurrency") == settings.floor  # a closed loop's rate is unknown


def test_a_step_is_the_first_phase_at_the_knobs_value(tmp_path) -> None:
    settings = CapacitySettings(step_duration=5, warmup=1)
    step = step_scenario(scenario(tmp_path, "{process: poisson, rate: 10}", []), settings, "rate", 250.0, 3)
    (phase,) = step.workload.phases
    assert (step.name, phase.arrival.process, phase.arrival.rate) == ("03-250", "poisson", 250.0)
    assert phase.duration == 6.0 and step.workload.warmup == 1.0
    closed = step_scenario(scenario(tmp_path, "{process: concurrency, concurrency: 4}", []), settings, "concurrency", 16, 1)
    assert closed.workload.phases[0].arrival.concurrency == 16
    assert isinstance(closed.workload.phases[0].arrival.concurrency, int)
