"""Registering per-request and pooled metrics makes them usable in SLOs at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.analysis import (
    AnalysisSpec,
    PhaseSpec,
    analyze,
    declare_scalar,
    metrics,
    per_request_metric,
    pooled_metric,
)
from harness.analysis.slo import SLOSyntaxError, parse_slo
from harness.analysis.synthetic import synthetic_records
from slogate_common.registry import Registry


def _copy(registry: Registry) -> Registry:
    clone = Registry(registry.kind)
    for entry in registry.entries():
        clone.add(entry.name, entry.value, args=entry.args)
    return clone


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_METRICS", _copy(metrics._METRICS))
    monkeypatch.setattr(metrics, "_SCALARS", _copy(metrics._SCALARS))


def test_per_request_and_pooled_metrics_are_judged() -> None:
    @per_request_metric("double_latency")
    def double_latency(records: pd.DataFrame) -> np.ndarray:
        return 2.0 * (records["done_ns"] - records["intended_ns"]).to_numpy() / 1e6

    @pooled_metric("gap")
    def gap(records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return np.full(3 * len(records), 1.5), np.repeat(np.arange(len(records)), 3)  # three gaps per request

    spec = AnalysisSpec(
        slos=["p50(double_latency) < 1s", "p99(gap) <= 1.5ms", "count(gap) >= 9000"],
        phases=(PhaseSpec("steady", 0.0, 30.0, 100.0),),
    )
    summary = analyze(synthetic_records(3000, rate=100.0), None, spec).summary
    assert [slo["verdict"] for slo in summary["slos"]] == ["pass", "pass", "pass"]
    assert summary["slos"][1]["n"] == 3000  # requests, not gaps: the independent units
    assert summary["slos"][2]["estimate"] == 9000


def test_declared_scalar_parses_and_names_cannot_collide() -> None:
    with pytest.raises(SLOSyntaxError):
        parse_slo("cold_start_ms < 3s")
    declare_scalar("cold_start_ms", "ms")
    assert parse_slo("cold_start_ms < 3s").threshold == 3000.0
    with pytest.raises(ValueError):
        per_request_metric("cold_start_ms")(lambda records: np.empty(0))
    with pytest.raises(ValueError):
        declare_scalar("latency", "ms")
