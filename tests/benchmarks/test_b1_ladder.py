"""B1's honest headline: the highest rate held at that step and every lower one, most rounds holding."""

from __future__ import annotations

from benchmarks.b1_generator import held_from_the_bottom, step_held
from benchmarks.b4_llm import paired_ratio


def step(rate: float, lag_ms: float, achieved: float | None = None) -> dict:
    return {"target_rate": rate, "achieved_rate": achieved or rate, "lag_p99_ms": lag_ms, "errors": 0}


def test_a_step_holds_when_most_of_its_rounds_do() -> None:
    assert step_held([step(1000, 0.2), step(1000, 3.0), step(1000, 0.3)])
    assert not step_held([step(1000, 0.2), step(1000, 3.0), step(1000, 3.5)])
    assert not step_held([step(1000, 0.2), step(1000, 0.2, achieved=900), step(1000, 3.0)])


def test_the_headline_never_skips_a_failed_lower_step() -> None:
    ladder = {2000.0: [step(2000, 0.1)] * 3, 6000.0: [step(6000, 2.0)] * 3, 10000.0: [step(10000, 0.2)] * 3}
    assert held_from_the_bottom(ladder) == 2000.0  # 10,000 held once, but 6,000 below it did not
    assert held_from_the_bottom({2000.0: [step(2000, 5.0)] * 3}) is None


def test_a_paired_ratio_is_met_only_by_its_interval() -> None:
    steady = paired_ratio([100.0, 102.0, 98.0, 101.0, 99.0], [100.0] * 5)
    assert steady.median == 1.0 and steady.interval[0] <= 1.0 <= steady.interval[1]
    assert paired_ratio([100.0, 90.0], [100.0, 100.0]).interval is None  # two rounds give no interval
