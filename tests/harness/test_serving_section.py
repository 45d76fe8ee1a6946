"""The serving section's figures against records and telemetry whose truth is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.serving import sampled, schema_errors
from harness.analysis.synthetic import synthetic_records


@settings(max_examples=30, deadline=None)
@given(bad=st.integers(0, 120), unprocessable=st.integers(0, 60), warm=st.integers(0, 50))
def test_the_schema_error_rate_counts_400_and_422_after_the_warm_up(bad: int, unprocessable: int, warm: int) -> None:
    records = synthetic_records(400, seed=bad)
    records["in_warmup"] = np.arange(400) < warm
    statuses = records["status"].to_numpy().copy()
    statuses[warm:warm + bad] = 400
    statuses[warm + bad:warm + bad + unprocessable] = 422
    statuses[:warm] = 400  # refused during the warm-up: not judged
    records["status"] = statuses
    result = schema_errors(records, 0.95)
    expected = min(bad + unprocessable, 400 - warm)
    assert (result["refused"], result["requests"]) == (expected, 400 - warm)
    lo, hi = result["ci"]
    assert result["share"] == pytest.approx(expected / (400 - warm))
    assert lo <= result["share"] <= hi


def test_telemetry_columns_are_read_where_sampled_and_empty_where_not() -> None:
    telemetry = pd.DataFrame({"t_ns": [0, 1, 2], "slogate_queue_depth": [0.0, 8.0, np.nan]})
    assert sampled(telemetry, "slogate_queue_depth").tolist() == [0.0, 8.0]
    assert sampled(telemetry, "slogate_model_load_seconds").size == 0
    assert sampled(None, "slogate_queue_depth").size == 0
