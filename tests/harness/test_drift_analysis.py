"""The drift section against monitors whose alarms are known: detection delays with their
sampling interval, false alarms counted in windows, refusals of reshaped requests."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.analyze_run import analyze
from harness.analysis.drift import Effect, first_alarm
from harness.analysis.spec import AnalysisSpec
from harness.analysis.synthetic import synthetic_records
from harness.telemetry.labelled import labelled_column

RATE = 100.0
SECONDS = 40
COLUMNS = ["amount", "hour", "risk", "web"]
METHOD = {"amount": "wasserstein_norm", "hour": "wasserstein_norm", "risk": "wasserstein_norm", "web": "jensenshannon"}


def facts(*steps: dict) -> dict:
    return {"drift_monitor": {"model": "fraud", "versions": ["1"], "features": COLUMNS, "rows_per_request": 1,
                              "thresholds": {"wasserstein_norm": 0.1, "jensenshannon": 0.1}, "steps": list(steps)}}


def step(at_s: float, columns: list[str], tag: str = "amount:shift@20s", kind: str = "shift") -> dict:
    return {"tag": tag, "kind": kind, "at_s": at_s, "over_s": 0.0, "columns": columns}


def monitor(scores: dict[str, np.ndarray], window_rows: float = 2000.0, t_s: np.ndarray | None = None) -> pd.DataFrame:
    """Telemetry as the sampler writes it: one row a second, each label set its own column."""
    t_s = np.arange(SECONDS, dtype=float) + 0.5 if t_s is None else t_s
    frame = {"t_ns": (t_s * 1e9).astype(np.int64)}
    for column in COLUMNS:
        values = scores.get(column, np.full(t_s.size, 0.02))
        labels = {"model": "fraud", "version": "1", "feature": column, "method": METHOD[column]}
        frame[labelled_column("slogate_feature_drift", labels)] = values
    frame[labelled_column("slogate_drift_window_rows", {"model": "fraud", "version": "1"})] = np.full(t_s.size, window_rows)
    return pd.DataFrame(frame)


def records(onset_s: float = 20.0, tag: str = "amount:shift@20s", refused: bool = False) -> pd.DataFrame:
    frame = synthetic_records(int(SECONDS * RATE), rate=RATE, seed=1)
    drifted = frame["intended_ns"] >= onset_s * 1e9
    frame.loc[drifted, "drift_tag"] = tag
    if refused:
        frame.loc[drifted, ["error_kind", "status"]] = ["http", 400]
    return frame


def crossing_at(t_alarm: float) -> np.ndarray:
    t_s = np.arange(SECONDS) + 0.5
    return np.where(t_s >= t_alarm, 0.3, 0.02)


def judged(slos: list[str], telemetry: pd.DataFrame | None, frame: pd.DataFrame, *steps: dict):
    result = analyze(frame, telemetry, AnalysisSpec(slos=slos, facts=facts(*steps)))
    return result.summary["drift"], {s["expr"]: s for s in result.summary["slos"]}


def test_the_delay_is_the_first_alarm_after_onset_and_the_sample_before_bounds_it():
    drift, slos = judged(["drift_detection_delay < 5s", "drift_detection_delay < 3s",
                          "drift_detection_delay < 2s"], monitor({"amount": crossing_at(23)}), records(),
                         step(20.0, ["amount"]))
    (detection,) = drift["steps"][0]["detections"]
    assert detection["delay_s"] == pytest.approx(3.5) and detection["delay_lo_s"] == pytest.approx(2.5)
    assert detection["served_before"] == 350 and not detection["alarming_at_onset"]
    assert [slos[e]["verdict"] for e in slos] == ["pass", "inconclusive", "fail"]


def test_a_monitor_that_never_alarms_fails_the_gate_once_the_run_outlasts_it():
    drift, slos = judged(["drift_detection_delay < 10s"], monitor({}), records(), step(20.0, ["amount"]))
    (detection,) = drift["steps"][0]["detections"]
    assert math.isinf(detection["delay_s"]) and detection["delay_lo_s"] == pytest.approx(19.5)
    assert detection["served_before"] == 2000  # every drifted request went unnoticed
    assert slos["drift_detection_delay < 10s"]["verdict"] == "fail"


def test_without_the_monitors_gauges_the_delay_is_not_measured():
    _, slos = judged(["drift_detection_delay < 10s", "false_alarm_rate < 10%"], None, records(), step(20.0, ["amount"]))
    assert {s["verdict"] for s in slos.values()} == {"inconclusive"}


def test_an_alarm_already_raised_at_onset_is_flagged():
    drift, _ = judged([], monitor({"amount": np.full(SECONDS, 0.5)}), records(), step(20.0, ["amount"]))
    assert drift["steps"][0]["detections"][0]["alarming_at_onset"]


def test_false_alarms_count_the_undrifted_columns_samples_in_windows():
    noisy = np.where(np.arange(SECONDS) % 10 == 0, 0.2, 0.02)  # hour alarms in 4 of 40 samples
    drift, slos = judged(["false_alarm_rate < 50%", "false_alarm_rate < 1%", "false_alarm_rate < 0.2%"],
                         monitor({"amount": crossing_at(22), "hour": noisy}, window_rows=1000), records(),
                         step(20.0, ["amount"]))
    alarms = drift["false_alarms"]
    assert alarms["columns"] == 3 and alarms["samples"] == 120 and alarms["alarm_samples"] == 4
    assert alarms["alarmed"] == {"hour@1": 4}
    # 4000 answered rows are 4 windows of 1000 per column: 12 independent observations
    assert alarms["n_effective"] == pytest.approx(12.0)
    assert slos["false_alarm_rate < 50%"]["verdict"] == "pass"
    # 3.3% observed, but 12 windows' evidence cannot show it is above 1%: counted per sample
    # (120) it would have been a confident fail
    assert slos["false_alarm_rate < 1%"]["verdict"] == "inconclusive"
    assert slos["false_alarm_rate < 0.2%"]["verdict"] == "fail"


def test_reshaped_requests_answered_as_whole_are_counted():
    shape = step(20.0, [], tag="schema:extra@20s", kind="schema")
    refused, slos = judged(["accepted_malformed_rate < 1%"], monitor({}), records(tag=shape["tag"], refused=True), shape)
    assert refused["steps"][0]["refusals"] == {"requests": 2000, "refused": 2000, "share": 1.0, "by_kind": {"http": 2000}}
    assert slos["accepted_malformed_rate < 1%"]["verdict"] == "pass"
    _, slos = judged(["accepted_malformed_rate < 1%"], monitor({}), records(tag=shape["tag"]), shape)
    assert slos["accepted_malformed_rate < 1%"]["verdict"] == "fail"


def test_the_prediction_shift_is_measured_in_baseline_sds():
    frame = records()
    rng = np.random.default_rng(4)
    drifted = frame["drift_tag"].notna().to_numpy()
    frame["prediction"] = np.where(drifted, rng.normal(1.5, 1.0, len(frame)), rng.normal(0.0, 1.0, len(frame)))
    drift, _ = judged([], monitor({"amount": crossing_at(22)}), frame, step(20.0, ["amount"]))
    shift = drift["steps"][0]["prediction_shift"]
    assert shift["effect"] == pytest.approx(1.5, abs=0.1) and shift["lo"] < 1.5 < shift["hi"] + 0.1


@settings(max_examples=200, deadline=None)
@given(onset=st.floats(0, 30), lag=st.floats(0.01, 9), period=st.floats(0.2, 3), phase=st.floats(0, 1))
def test_the_true_alarm_lies_inside_the_delays_interval(onset, lag, period, phase):
    """Whatever the sampling period and phase, the moment the score truly crossed lies between
    the stated bounds: the sampler cannot see it before the sample that first shows it."""
    t_s = np.arange(phase * period, 60.0, period)
    crossed = onset + lag
    effect = Effect("1", "amount", "wasserstein_norm", 0.1, t_s, np.where(t_s >= crossed, 0.5, 0.0))
    detected, before = first_alarm(effect, onset)
    if crossed > t_s[-1]:
        assert math.isinf(detected)
        return
    assert before <= crossed <= detected and detected - before <= period + 1e-9
