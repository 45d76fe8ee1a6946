"""The resources section against telemetry whose growth is known: a leak, a steady server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.resources import MIB, resources_section
from harness.analysis.samples import RunSamples
from harness.analysis.sections import SectionInput
from harness.analysis.spec import AnalysisSpec
from harness.analysis.synthetic import synthetic_records
from harness.analysis.windows import Timeline
from harness.clock import NS_PER_S

SPAN_S = 120


def telemetry(rss_mib: np.ndarray, fds: np.ndarray, threads: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"t_ns": np.arange(rss_mib.size, dtype=np.int64) * NS_PER_S, "rss_bytes": rss_mib * MIB,
                         "num_fds": fds.astype(float), "num_threads": threads.astype(float)})


def section_of(samples: pd.DataFrame, measured: tuple[float, float] = (0.0, SPAN_S)):
    records = synthetic_records(600, seed=1)
    inp = SectionInput(records, samples, AnalysisSpec(confidence=0.95), RunSamples(records, SPAN_S), {}, SPAN_S,
                       timeline=Timeline(measured, (), 0.0))
    return resources_section(inp)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), leak=st.floats(2.0, 50.0))
def test_a_leak_shows_as_a_slope_whose_interval_lies_above_zero(seed: int, leak: float) -> None:
    rng = np.random.default_rng(seed)
    minutes = np.arange(SPAN_S) / 60.0
    rss = 300 + leak * minutes + rng.normal(0, 0.5, SPAN_S)
    out = section_of(telemetry(rss, np.full(SPAN_S, 40), np.full(SPAN_S, 12)))
    slope = out.scalars["rss_slope"]
    assert slope.ci[0] > 0 and slope.value == pytest.approx(leak, abs=0.5)  # coverage: test_trend.py
    assert out.scalars["rss_growth"].value == pytest.approx(rss.max() / np.median(rss[:3]) - 1)


def test_a_steady_server_grows_nothing_and_its_slope_interval_holds_zero() -> None:
    rng = np.random.default_rng(7)
    rss = 300 + rng.normal(0, 0.5, SPAN_S)
    out = section_of(telemetry(rss, np.full(SPAN_S, 40), np.full(SPAN_S, 12)))
    low, high = out.scalars["rss_slope"].ci
    assert low <= 0 <= high
    assert out.scalars["fd_growth"].value == 0 and out.scalars["thread_growth"].value == 0


def test_descriptors_and_threads_count_what_remained_at_the_end_from_the_measured_start() -> None:
    fds = np.full(SPAN_S, 40)
    fds[:10] = 99  # the warm-up's count is not the start
    fds[40:60] = 400  # a burst's connections, closed again: not growth
    fds[-5:] = 43  # three sockets leaked
    threads = np.full(SPAN_S, 12)
    threads[60:] = 20
    out = section_of(telemetry(np.full(SPAN_S, 300.0), fds, threads), measured=(10.0, SPAN_S))
    assert out.scalars["fd_growth"].value == 3 and out.section["fds"]["max"] == 400
    assert out.scalars["thread_growth"].value == 8
    assert out.section["fds"]["start"] == 40


def test_an_external_target_has_no_process_values_but_still_a_latency_trend() -> None:
    out = section_of(pd.DataFrame({"t_ns": pd.Series(dtype="int64")}))
    assert set(out.scalars) == {"latency_drift"}
    assert out.section["rss"] is None
