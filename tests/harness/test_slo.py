"""SLO grammar (parse, units, errors with carets) and verdicts on constructed samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betainc

from harness.analysis.samples import Sample
from harness.analysis.slo import SLOSyntaxError, parse_slo
from harness.analysis.spec import Scalar
from harness.analysis.verdicts import evaluate_slo


class Samples:
    """A SampleSource over fixed arrays, each in time order (failures as +inf)."""

    def __init__(self, duration_s: float = 100.0, **metrics: np.ndarray) -> None:
        self.duration_s = duration_s
        self.metrics = {name: Sample.of(values) for name, values in metrics.items()}

    def judged(self, metric: str) -> Sample:
        return self.metrics.get(metric, Sample.of(np.empty(0)))


def verdict(expr: str, confidence: float = 0.95, scalars: dict | None = None, **metrics: np.ndarray) -> dict:
    return evaluate_slo(parse_slo(expr), Samples(**metrics), scalars or {}, confidence)


@pytest.mark.parametrize(
    ("expr", "stat", "metric", "op", "threshold", "unit"),
    [
        ("p95(latency) < 300ms", "p95", "latency", "<", 300.0, "ms"),
        ("p99.9(latency)<=1s", "p99.9", "latency", "<=", 1000.0, "ms"),
        ("p50( service_time ) > 250us", "p50", "service_time", ">", 0.25, "ms"),
        ("max(latency) < 2m", "max", "latency", "<", 120000.0, "ms"),
        ("mean(time_to_first_byte) < 20", "mean", "time_to_first_byte", "<", 20.0, "ms"),
        ("availability >= 99.9%", None, "availability", ">=", 0.999, "ratio"),
        ("error_rate < 0.001", None, "error_rate", "<", 0.001, "ratio"),
        ("throughput >= 95 req/s", None, "throughput", ">=", 95.0, "req/s"),
        ("goodput > 10/s", None, "goodput", ">", 10.0, "req/s"),
        ("rate(latency) > 10/s", "rate", "latency", ">", 10.0, "req/s"),
        ("count(latency) >= 1e3", "count", "latency", ">=", 1000.0, "count"),
        ("time_to_ready < 30s", None, "time_to_ready", "<", 30000.0, "ms"),
        ("p99(ttft) < 200ms", "p99", "ttft", "<", 200.0, "ms"),
        ("p50(itl) < 20ms", "p50", "itl", "<", 20.0, "ms"),
    ],
)
def test_parse(expr: str, stat: str | None, metric: str, op: str, threshold: float, unit: str) -> None:
    slo = parse_slo(expr)
    assert (slo.stat, slo.metric, slo.op, slo.unit) == (stat, metric, op, unit)
    assert slo.threshold == threshold  # exact: Decimal arithmetic, no 0.9990000000000001


def test_percentile_fraction() -> None:
    assert parse_slo("p99.9(latency) < 1s").q == 0.999
    assert parse_slo("p50(latency) < 1s").q == 0.5


def test_extra_scalars_extend_the_vocabulary() -> None:
    with pytest.raises(SLOSyntaxError):
        parse_slo("queue_wait < 3ms")
    slo = parse_slo("queue_wait < 3ms", {"queue_wait": "ms"})
    assert slo.threshold == 3.0


@settings(max_examples=60)
@given(
    stat=st.sampled_from(["p50", "p90", "p99", "p99.9", "mean", "max"]),
    metric=st.sampled_from(["latency", "service_time", "time_to_first_byte"]),
    op=st.sampled_from(["<", "<=", ">", ">="]),
    value=st.integers(1, 10**6),
    unit=st.sampled_from(["ms", "s", "us", ""]),
    space=st.sampled_from(["", " ", "  "]),
)
def test_parse_round_trips_any_spacing(stat: str, metric: str, op: str, value: int, unit: str, space: str) -> None:
    expr = f"{stat}({space}{metric}{space}){space}{op}{space}{value}{space}{unit}"
    slo = parse_slo(expr)
    factor = {"ms": 1.0, "s": 1000.0, "us": 0.001, "": 1.0}[unit]
    assert (slo.stat, slo.metric, slo.op, slo.expr) == (stat, metric, op, expr)
    assert slo.threshold == pytest.approx(value * factor)


@pytest.mark.parametrize(
    ("expr", "column", "fragment"),
    [
        ("p99(latency) = 3ms", 13, "expected a comparison operator"),
        ("p99(latncy) < 3ms", 4, "did you mean 'latency'?"),
        ("thruput > 4", 0, "did you mean 'throughput'?"),
        ("latency < 3ms", 0, "give a statistic, e.g. p99(latency)"),
        ("p99(availability) > 0.9", 4, "write it bare"),
        ("avg(latency) < 1s", 0, "unknown statistic 'avg'"),
        ("p100(latency) < 1s", 1, "strictly between 0 and 100"),
        ("p99(latency < 3ms", 12, "expected ')'"),
        ("p99(latency) < ms", 15, "expected a number"),
        ("p99(latency) < 3 parsecs", 17, "expected a unit"),
        ("availability >= 99.9", 16, "did you mean 99.9%?"),
        ("availability >= 99 ms", 19, "unit 'ms' does not fit"),
        ("p99(latency) < 3%", 16, "unit '%' does not fit"),
        ("", 0, "expected a statistic"),
        ("recovery_time < 3s in after", 19, "measured per fault: name one"),
        ("time_to_ready < 3s in during(x)", 19, "describes the whole run"),
    ],
)
def test_syntax_errors_point_at_the_column(expr: str, column: int, fragment: str) -> None:
    with pytest.raises(SLOSyntaxError) as caught:
        parse_slo(expr)
    error = caught.value
    assert error.column == column
    message, shown, caret = str(error).split("\n")
    assert fragment in message
    assert shown == f"    {expr}"
    assert caret == " " * (4 + column) + "^"


def upper_rank(n: int, q: float, confidence: float) -> int:
    """The smallest rank u with P(X_(u) >= Q_q) >= confidence, from the order statistic's own
    distribution (P(X_(u) < Q_q) = I_q(u, n - u + 1)): independent of the binomial ranks the
    code uses."""
    return next(u for u in range(1, n + 1) if 1.0 - betainc(u, n - u + 1, q) >= confidence)


def test_percentile_verdicts_read_the_right_order_statistic() -> None:
    """Values 1..10000 in shuffled time order: the p99 upper bound is exactly the u-th value."""
    values = np.random.default_rng(5).permutation(np.arange(1.0, 10_001.0))
    u = float(upper_rank(10_000, 0.99, 0.95))
    result = verdict(f"p99(latency) < {u + 0.5}ms", latency=values)
    assert result["verdict"] == "pass" and result["ci"][1] == u and result["n"] == 10_000
    assert result["estimate"] == pytest.approx(np.quantile(values, 0.99))
    assert result["unit"] == "ms" and result["threshold"] == u + 0.5 and result["confidence"] == 0.95
    assert "upper 95% bound" in result["reason"] and "independent samples" in result["method"]
    assert verdict(f"p99(latency) < {u - 0.5}ms", latency=values)["verdict"] == "inconclusive"


def test_percentile_is_inconclusive_below_the_loadgen_minimum() -> None:
    result = verdict("p99(latency) < 10ms", confidence=0.99, latency=np.full(120, 5.0))
    assert result["verdict"] == "inconclusive"
    assert result["reason"] == "n=120 < 459 needed to certify p99 at 99% confidence"
    assert verdict("p99(latency) < 10ms", latency=np.full(100, 5.0))["verdict"] == "inconclusive"


def test_percentile_fails_when_the_whole_interval_is_over() -> None:
    result = verdict("p99(latency) < 10ms", latency=np.linspace(50.0, 60.0, 100))
    assert result["verdict"] == "fail"  # a certain failure needs no minimum n
    assert result["reason"].startswith("lower 95% bound 5") and "≥ 10 ms" in result["reason"]


def test_percentile_straddling_the_threshold_is_inconclusive() -> None:
    samples = np.random.default_rng(3).exponential(10.0, 2000)
    p99 = float(np.quantile(samples, 0.99))
    result = verdict(f"p99(latency) < {p99:.3f}ms", latency=samples)
    assert result["verdict"] == "inconclusive"
    assert result["ci"][0] < p99 < result["ci"][1]
    assert "straddle" in result["reason"]


def test_greater_than_reads_the_lower_bound() -> None:
    values = np.random.default_rng(6).permutation(np.arange(1.0, 1001.0))
    lower = verdict("p50(latency) > 400ms", latency=values)
    assert lower["verdict"] == "pass" and 450 < lower["ci"][0] < 500
    assert verdict("p50(latency) > 600ms", latency=values)["verdict"] == "fail"


def test_no_samples_is_inconclusive() -> None:
    result = verdict("p95(latency) < 1s")
    assert result["verdict"] == "inconclusive" and result["n"] == 0
    assert result["reason"] == "no requests after warm-up"


def test_mean_max_count_and_rate() -> None:
    samples = np.linspace(1.0, 3.0, 500)
    assert verdict("mean(latency) < 2.5ms", latency=samples)["verdict"] == "pass"
    assert verdict("mean(latency) < 1.5ms", latency=samples)["verdict"] == "fail"
    result = verdict("max(latency) < 2.9ms", latency=samples)
    assert result["verdict"] == "fail" and result["reason"] == "observed max(latency) 3 ms ≥ 2.9 ms"
    assert verdict("max(latency) <= 3ms", latency=samples)["verdict"] == "pass"
    assert verdict("count(latency) >= 500", latency=samples)["verdict"] == "pass"
    rate = verdict("rate(latency) > 4/s", latency=samples)  # 500 in 100 s
    assert rate["estimate"] == 5.0 and rate["verdict"] == "pass"
    assert verdict("rate(latency) > 5/s", latency=samples)["verdict"] == "inconclusive"


def test_scalars_with_and_without_intervals() -> None:
    scalars = {
        "availability": Scalar(0.9995, "ratio", (0.9991, 0.9998), 30_000),
        "time_to_ready": Scalar(12_000.0, "ms"),
    }
    assert verdict("availability >= 99.9%", scalars=scalars)["verdict"] == "pass"
    assert verdict("availability >= 99.95%", scalars=scalars)["verdict"] == "inconclusive"
    assert verdict("availability >= 99.99%", scalars=scalars)["verdict"] == "fail"
    ready = verdict("time_to_ready < 30s", scalars=scalars)
    assert ready["verdict"] == "pass" and ready["ci"] == [12_000.0, 12_000.0]
    missing = verdict("recovery_time < 5s", scalars=scalars)
    assert missing["verdict"] == "inconclusive" and missing["reason"] == "not measured in this run"
    assert math.isnan(missing["estimate"])
