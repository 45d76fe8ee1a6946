"""Drift injection: each kind moves what it says, when it says, and nothing before."""

import numpy as np
import pytest
from pydantic import ValidationError

from harness.contracts import ModelInfo
from harness.workload.drift import DriftStep
from harness.workload.tabular import TabularArgs, TabularGenerator

NAMES = ["amount", "risk", "channel_web", "channel_mobile", "channel_pos", "night"]
INFO = ModelInfo(
    inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 6], "feature_names": NAMES}],
    parameters={"baseline": {"features": {
        "amount": {"kind": "continuous", "mean": 5.0, "std": 2.0, "quantiles": list(np.linspace(0, 10, 11))},
        "risk": {"kind": "continuous", "mean": 0.0, "std": 1.0},
        "channel_web": {"kind": "binary", "mean": 0.5},
        "channel_mobile": {"kind": "binary", "mean": 0.3},
        "channel_pos": {"kind": "binary", "mean": 0.2},
        "night": {"kind": "binary", "mean": 0.1},
    }}},
)
N = 20_000
TIMES = np.linspace(0.0, 100.0, N, endpoint=False)  # one payload every 5 ms over 100 s


def drifted(*steps: dict, rows: int = 1) -> tuple[np.ndarray, list]:
    args = TabularArgs(rows=rows, drift=[DriftStep.model_validate(step) for step in steps])
    payloads = TabularGenerator(args).generate(N, INFO, np.random.default_rng(3), TIMES)
    return payloads, [p.drift_tag for p in payloads]


def stacked(payloads) -> np.ndarray:
    return np.stack([p.data[0] for p in payloads])


def test_a_shift_moves_the_mean_by_its_sds_from_its_onset_only():
    payloads, tags = drifted({"at": "50s", "feature": "amount", "shift": "2sd"})
    amount = stacked(payloads)[:, 0]
    before, after = amount[TIMES < 50], amount[TIMES >= 50]
    assert before.mean() == pytest.approx(5.0, abs=0.1)
    assert after.mean() - before.mean() == pytest.approx(4.0, abs=0.15)  # 2 sd of 2.0
    assert set(np.array(tags, dtype=object)[TIMES < 50]) == {None}
    assert set(np.array(tags, dtype=object)[TIMES >= 50]) == {"amount:shift@50s"}


def test_a_ramp_reaches_full_strength_at_its_end():
    payloads, _ = drifted({"at": "20s", "over": "40s", "feature": "amount", "shift": 3})
    amount = stacked(payloads)[:, 0]
    middle = (TIMES >= 38) & (TIMES < 42)  # half way: 1.5 sd
    assert amount[middle].mean() - 5.0 == pytest.approx(3.0, abs=0.35)
    assert amount[TIMES >= 60].mean() - 5.0 == pytest.approx(6.0, abs=0.15)


def test_a_scale_widens_about_the_baseline_mean():
    payloads, _ = drifted({"at": "50s", "feature": "risk", "scale": 2})
    risk = stacked(payloads)[:, 1]
    assert risk[TIMES < 50].std() == pytest.approx(1.0, abs=0.05)
    assert risk[TIMES >= 50].std() == pytest.approx(2.0, abs=0.1)
    assert risk[TIMES >= 50].mean() == pytest.approx(0.0, abs=0.1)


def test_frequencies_redraw_a_one_hot_group_and_keep_one_value_per_row():
    payloads, _ = drifted({"at": "50s", "feature": "channel", "frequencies": {"web": 0.8}})
    hot = stacked(payloads)[:, 2:5]
    assert (hot.sum(axis=1) == 1).all()
    after = hot[TIMES >= 50].mean(axis=0)
    # the 20% left is split by the baseline's mobile:pos = 3:2
    assert after == pytest.approx([0.8, 0.12, 0.08], abs=0.02)
    assert hot[TIMES < 50].mean(axis=0) == pytest.approx([0.5, 0.3, 0.2], abs=0.02)


def test_frequencies_of_a_binary_feature_name_its_zero_and_one():
    payloads, _ = drifted({"at": "0s", "feature": "night", "frequencies": {"1": 0.6}})
    assert stacked(payloads)[:, 5].mean() == pytest.approx(0.6, abs=0.02)


@pytest.mark.parametrize("fill, value", [("zero", 0.0), ("mean", 5.0)])
def test_missing_values_take_their_fill(fill, value):
    payloads, _ = drifted({"at": "50s", "feature": "amount", "missing": "30%", "fill": fill})
    amount = stacked(payloads)[:, 0]
    assert np.mean(amount[TIMES >= 50] == value) == pytest.approx(0.3, abs=0.02)
    assert np.mean(amount[TIMES < 50] == value) < 0.001


def test_missing_as_nan_is_sent_as_nan():
    payloads, _ = drifted({"at": "0s", "feature": "risk", "missing": 0.5})
    assert np.isnan(stacked(payloads)[:, 1]).mean() == pytest.approx(0.5, abs=0.02)


def test_a_swap_exchanges_two_columns_of_whole_payloads():
    payloads, tags = drifted({"at": "50s", "schema": {"swap": ["amount", "risk"]}}, rows=2)
    late = [p.data for p, t in zip(payloads, TIMES) if t >= 50]
    assert np.mean([block[:, 0].mean() for block in late]) == pytest.approx(0.0, abs=0.1)
    assert tags[-1] == "schema:swap@50s"


def test_extra_and_dropped_columns_change_the_shape():
    extra, _ = drifted({"at": "50s", "schema": {"extra": 2}})
    assert extra[0].data.shape == (1, 6) and extra[-1].data.shape == (1, 8)
    dropped, _ = drifted({"at": "50s", "schema": {"drop": ["night", "risk"]}})
    assert dropped[-1].data.shape == (1, 4)


def test_steps_stack_and_their_tags_join():
    _, tags = drifted({"at": "20s", "feature": "amount", "shift": 1, "name": "upstream-units"},
                      {"at": "60s", "feature": "risk", "scale": 2})
    assert tags[int(N * 0.3)] == "upstream-units" and tags[-1] == "upstream-units+risk:scale@60s"


def test_unscheduled_payloads_are_never_drifted():
    args = TabularArgs(drift=[DriftStep(at=0, feature="amount", shift=5)])
    payloads = TabularGenerator(args).generate(1000, INFO, np.random.default_rng(0))
    assert stacked(payloads)[:, 0].max() <= 10 and all(p.drift_tag is None for p in payloads)


def test_an_unknown_feature_names_the_step_and_the_columns():
    args = TabularArgs(drift=[DriftStep(at=0, feature="amout", shift=1)])
    with pytest.raises(ValueError, match=r"drift\[0\]: 'amout' is not an input feature \(amount, risk"):
        TabularGenerator(args).generate(10, INFO, np.random.default_rng(0), np.zeros(10))


def test_an_unknown_category_names_the_values():
    args = TabularArgs(drift=[DriftStep(at=0, feature="channel", frequencies={"atm": 0.5})])
    with pytest.raises(ValueError, match="channel has values web, mobile, pos, not atm"):
        TabularGenerator(args).generate(10, INFO, np.random.default_rng(0), np.zeros(10))


@pytest.mark.parametrize("step, message", [
    ({"at": 0, "feature": "amount"}, "exactly one of shift"),
    ({"at": 0, "feature": "amount", "shift": 1, "scale": 2}, "got shift, scale"),
    ({"at": 0, "shift": 1}, "names the feature"),
    ({"at": 0, "feature": "amount", "schema": {"extra": 1}}, "names the feature"),
    ({"at": 0, "schema": {"extra": 1, "drop": ["amount"]}}, "one of swap, extra or drop"),
    ({"at": 0, "feature": "channel", "frequencies": {"web": 0.7, "pos": 0.5}}, "more than 100%"),
    ({"at": 0, "feature": "amount", "shift": "2 stddev"}, "shift"),
])
def test_malformed_steps_are_refused(step, message):
    with pytest.raises(ValidationError, match=message):
        DriftStep.model_validate(step)


def test_a_labelled_sample_gives_rows_their_labels_and_still_drifts(tmp_path):
    sample = tmp_path / "sample.csv"
    rows = np.random.default_rng(0).normal(size=(50, len(NAMES)))
    lines = [",".join(["label", *reversed(NAMES)])]  # column order is the file's own
    lines += [",".join([str(i % 2), *map(str, reversed(row))]) for i, row in enumerate(rows)]
    sample.write_text("\n".join(lines) + "\n")
    args = TabularArgs(labelled_sample=sample, drift=[DriftStep(at=50, feature="amount", shift=1)])
    payloads = TabularGenerator(args).generate(N, INFO, np.random.default_rng(3), TIMES)
    by_row = {tuple(np.float32(row)): i % 2 for i, row in enumerate(rows)}
    early = [p for p, t in zip(payloads, TIMES) if t < 50]
    assert all(by_row[tuple(p.data[0])] == p.label for p in early)
    late = np.stack([p.data[0] for p, t in zip(payloads, TIMES) if t >= 50])
    assert late[:, 0].mean() - rows[:, 0].mean() == pytest.approx(2.0, abs=0.1)  # 1 sd of the baseline's 2.0


def test_a_labelled_sample_without_the_models_columns_names_them(tmp_path):
    sample = tmp_path / "sample.csv"
    sample.write_text("amount,label\n1,0\n")
    with pytest.raises(ValueError, match=r"sample.csv: no column risk, channel_web.*the ground truth is `label`"):
        TabularGenerator(TabularArgs(labelled_sample=sample)).generate(5, INFO, np.random.default_rng(0))
    with pytest.raises(ValidationError, match="no such file"):
        TabularArgs(labelled_sample=tmp_path / "absent.csv")
