"""The metric vocabulary SLO expressions may name, as registries.

- A per-request metric maps a records frame to one value per row (NaN where undefined),
  so goodput and plots can line values up with requests.
- A pooled metric maps a frame to any number of values (e.g. every inter-token gap), each
  with the position of the row (request) it came from: the requests, not the values, are
  the independent units that minimum-n rules and intervals count.
- A censored metric (the default) counts a failed request as +inf: slower than any
  threshold. `schedule_lag` is not censored: a failed request was still sent when it was.
- A scalar is a run-level value named bare in an SLO (availability, time_to_ready, ...);
  declaring it here lets scenario files be checked before the run computes it.

Units are canonical: "ms" for times, "ratio" for fractions, "req/s" or "tok/s" for rates,
"count", or any other label (then thresholds are bare numbers in that unit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slogate_common.registry import Registry

MetricFn = Callable[[pd.DataFrame], np.ndarray]  # per request; pooled: (values, row positions)


@dataclass(frozen=True)
class Metric:
    name: str
    fn: MetricFn
    unit: str
    pooled: bool
    censored: bool = True  # a failed request counts as +inf
    includes_lag: bool = False  # measured from the intended time: the generator's own lag is inside it


# Built-ins register when harness/analysis/measurements.py and llm.py are imported (slo.py does).
_METRICS: Registry[Metric] = Registry("metric")
_SCALARS: Registry[str] = Registry("run-level value")  # name → unit


def _register(name: str, unit: str, pooled: bool, censored: bool, includes_lag: bool = False) -> Callable[[MetricFn], MetricFn]:
    def decorate(fn: MetricFn) -> MetricFn:
        if name in _SCALARS:
            raise ValueError(f"{name!r} is already a scalar metric")
        _METRICS.add(name, Metric(name, fn, unit, pooled, censored, includes_lag))
        return fn

    return decorate


def per_request_metric(name: str, unit: str = "ms", *, censored: bool = True,
                       includes_lag: bool = False) -> Callable[[MetricFn], MetricFn]:
    """Register `fn(records) -> array aligned with the rows` (NaN where undefined).

    `includes_lag`: the metric runs from the intended send time, so the run's schedule lag
    is checked at every percentile of it that an SLO judges."""
    return _register(name, unit, pooled=False, censored=censored, includes_lag=includes_lag)


def pooled_metric(name: str, unit: str = "ms", *, censored: bool = True) -> Callable[[MetricFn], MetricFn]:
    """Register `fn(records) -> (values, row positions)` pooling several values per request (e.g. itl)."""
    return _register(name, unit, pooled=True, censored=censored)


def declare_scalar(name: str, unit: str) -> None:
    """Make a bare run-level name valid in SLOs; its value arrives in AnalysisSpec.extra_scalars."""
    if name in _METRICS:
        raise ValueError(f"{name!r} is already a per-request or pooled metric")
    _SCALARS.add(name, unit)


def get_metric(name: str) -> Metric | None:
    return _METRICS.get(name) if name in _METRICS else None


def metric_names() -> list[str]:
    return [entry.name for entry in _METRICS.entries()]


def scalar_units() -> dict[str, str]:
    return {entry.name: entry.value for entry in _SCALARS.entries()}
