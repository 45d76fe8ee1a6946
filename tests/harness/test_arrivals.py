import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from harness.clock import NS_PER_S as NS
from harness.workload.arrivals import Phase, build_schedule


def phase(duration: float, **arrival) -> Phase:
    return Phase(duration=duration, arrival=arrival)


@given(
    rate=st.floats(min_value=0.5, max_value=2000),
    duration=st.floats(min_value=0.5, max_value=60),
    process=st.sampled_from(["constant", "poisson", "gamma"]),
    seed=st.integers(0, 2**31),
)
@settings(max_examples=60, deadline=None)
def test_each_phase_delivers_rate_times_duration_inside_the_phase(rate, duration, process, seed):
    shape = {"burstiness": 0.3} if process == "gamma" else {}
    (schedule,) = build_schedule([phase(duration, process=process, rate=rate, **shape)], seed)
    offsets = schedule.offsets_ns
    assert len(offsets) == round(rate * duration)
    assert np.all(np.diff(offsets) >= 0)
    assert offsets.size == 0 or (offsets[0] >= 0 and offsets[-1] < duration * NS)


def test_the_seed_makes_schedules_reproducible():
    phases = [phase(10, process="poisson", rate=100)]
    a, b = build_schedule(phases, 3), build_schedule(phases, 3)
    c = build_schedule(phases, 4)
    assert np.array_equal(a[0].offsets_ns, b[0].offsets_ns)
    assert not np.array_equal(a[0].offsets_ns, c[0].offsets_ns)


def test_poisson_gaps_are_exponential():
    (schedule,) = build_schedule([phase(200, process="poisson", rate=50)], 1)
    gaps = np.diff(schedule.offsets_ns) / NS
    assert stats.kstest(gaps, "expon", args=(0, 1 / 50)).pvalue > 0.001


def test_gamma_burstiness_raises_gap_variability():
    (poisson,) = build_schedule([phase(100, process="gamma", rate=50, burstiness=1.0)], 1)
    (bursty,) = build_schedule([phase(100, process="gamma", rate=50, burstiness=0.3)], 1)
    cv = lambda s: np.std(np.diff(s.offsets_ns)) / np.mean(np.diff(s.offsets_ns))
    assert cv(poisson) == pytest.approx(1.0, abs=0.1)
    assert cv(bursty) == pytest.approx(1 / np.sqrt(0.3), rel=0.15)


def test_ramp_rate_moves_linearly():
    (schedule,) = build_schedule([phase(20, process="ramp", **{"from": 10, "to": 50})], 0)
    seconds = schedule.offsets_ns / NS
    assert len(seconds) == 600
    first, last = np.sum(seconds < 2), np.sum(seconds >= 18)
    assert first == pytest.approx(2 * 12, abs=2)
    assert last == pytest.approx(2 * 48, abs=2)


def test_phases_follow_each_other():
    schedules = build_schedule([phase(5, process="constant", rate=10), phase(5, process="concurrency", concurrency=2)], 0)
    assert schedules[0].offsets_ns[-1] < 5 * NS
    assert schedules[1].start_s == 5 and schedules[1].end_s == 10
    assert schedules[1].offsets_ns.size == 0 and schedules[1].target_rate is None


def test_trace_offsets_are_scaled_and_clipped(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("# offsets\n0.0\n1.0\n3.0\n9.0\n")
    (schedule,) = build_schedule([phase(4, process="trace", file=trace, speedup=2.0)], 0)
    assert list(schedule.offsets_ns / NS) == [0.0, 0.5, 1.5]
