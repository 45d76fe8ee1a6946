"""Probes replayed through a run, and the spread of the answers each one got."""

import numpy as np
import pytest

from harness.analysis.analyze_run import analyze
from harness.analysis.spec import AnalysisSpec
from harness.analysis.synthetic import synthetic_records
from harness.workload.drift import DriftStep
from harness.workload.tabular import TabularArgs, TabularGenerator
from tests.harness.test_drift_injection import INFO, TIMES


def generated(seed: int = 3, **args):
    return TabularGenerator(TabularArgs(**args)).generate(len(TIMES), INFO, np.random.default_rng(seed), TIMES)


def test_probes_replace_their_share_and_repeat_the_same_payload_under_one_id():
    payloads = generated(probes=10, probe_share=0.05, drift=[DriftStep(at=0, feature="amount", shift=3)])
    probes = [p for p in payloads if p.payload_id >= len(TIMES)]
    assert len(probes) / len(payloads) == pytest.approx(0.05, abs=0.006)
    assert {p.payload_id for p in probes} == set(range(len(TIMES), len(TIMES) + 10))
    for pid in range(len(TIMES), len(TIMES) + 10):
        same = [p.data for p in probes if p.payload_id == pid]
        assert len(same) > 50 and all(np.array_equal(same[0], d) for d in same)
    assert all(p.drift_tag is None for p in probes)  # probes stand apart from the drift timeline
    assert all(p.drift_tag is not None for p in payloads if p.payload_id < len(TIMES))


def test_probes_are_the_same_whatever_the_seed_and_absent_by_default():
    def probe_data(seed):
        return {p.payload_id: p.data.tobytes() for p in generated(seed, probes=5) if p.payload_id >= len(TIMES)}
    assert probe_data(1) == probe_data(2)
    plain, default = generated(7), generated(7, probes=0)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(plain, default))
    assert max(p.payload_id for p in plain) == len(TIMES) - 1


def records_with_repeats(spreads: dict[int, float]):
    """Payload k (of `spreads`) answered 20 times, its answers `spread` apart."""
    frame = synthetic_records(2000, seed=4)
    frame["payload_id"] = np.arange(len(frame)) % 100  # 100 payloads, 20 answers each
    base = frame["payload_id"].to_numpy() / 100.0
    wobble = np.array([spreads.get(pid, 0.0) for pid in frame["payload_id"]]) * (np.arange(len(frame)) // 100 % 2)
    frame["prediction"] = base + wobble
    return frame


def test_the_spread_of_each_payloads_answers_is_reported_per_version():
    frame = records_with_repeats({7: 3e-7, 42: 1e-3})
    result = analyze(frame, None, AnalysisSpec(slos=["prediction_spread < 0.01", "prediction_spread < 1e-6"]))
    section = result.summary["repeatability"]
    version = section["versions"]["1"]
    assert version["payloads"] == 100 and version["answers"] == 2000 and version["differing"] == 2
    assert version["max_spread"] == pytest.approx(1e-3) and version["worst"][0]["payload_id"] == 42
    assert [s["verdict"] for s in result.summary["slos"]] == ["pass", "fail"]


def test_identical_answers_spread_zero_and_unique_payloads_have_no_section():
    assert analyze(records_with_repeats({}), None, AnalysisSpec()).summary["repeatability"]["max_spread"] == 0.0
    unique = synthetic_records(500)
    unique["prediction"] = 0.5
    assert "repeatability" not in analyze(unique, None, AnalysisSpec()).summary
