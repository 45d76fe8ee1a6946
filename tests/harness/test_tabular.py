import numpy as np
import pytest

from harness.contracts import ModelInfo
from harness.workload.tabular import TabularArgs, TabularGenerator

INFO = ModelInfo(
    inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 3], "feature_names": ["amount", "web", "hour"]}],
    parameters={
        "baseline": {
            "features": {
                "amount": {"kind": "continuous", "mean": 1.0, "std": 1.0, "quantiles": list(np.linspace(0, 10, 11))},
                "web": {"kind": "binary", "mean": 0.3},
            }
        }
    },
)


def test_rows_follow_the_baseline_marginals():
    payloads = TabularGenerator(TabularArgs(rows=2)).generate(5000, INFO, np.random.default_rng(0))
    data = np.concatenate([p.data for p in payloads])
    assert data.shape == (10000, 3) and data.dtype == np.float32
    assert data[:, 0].min() >= 0 and data[:, 0].max() <= 10
    assert np.mean(data[:, 0]) == pytest.approx(5.0, abs=0.15)  # uniform over the quantile edges
    assert set(np.unique(data[:, 1])) == {0.0, 1.0}
    assert np.mean(data[:, 1]) == pytest.approx(0.3, abs=0.02)
    assert np.std(data[:, 2]) == pytest.approx(1.0, abs=0.05)  # no statistics published: N(0, 1)


def test_payload_ids_are_unique_and_ordered():
    payloads = TabularGenerator(TabularArgs()).generate(10, INFO, np.random.default_rng(0))
    assert [p.payload_id for p in payloads] == list(range(10))


def test_a_target_without_a_schema_is_a_clear_error():
    with pytest.raises(ValueError, match="input schema"):
        TabularGenerator(TabularArgs()).generate(1, ModelInfo(), np.random.default_rng(0))
