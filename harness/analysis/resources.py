"""The `resources` section: what the server's process held over the run, and whether it grew.

From the telemetry sampler's once-a-second samples of the server process, over the measured
span (warm-up excluded):

- `rss_growth`: the largest resident set over the span against the median of its first three
  samples (a ratio: 0.2 is 20% more), what an overload must not inflate;
- `rss_slope`: the resident set's trend in MiB per minute with its interval (batch means, see
  trend.py), what a soak judges: a leak is a slope whose interval excludes zero;
- `fd_growth`, `thread_growth`: open file descriptors and threads at the end of the span
  against its start (the medians of the last and first three samples, counts): a leaked
  socket or thread per request shows here long before RSS, while the connections a burst
  opened and then closed do not;
- `latency_drift`: the trend of the successful requests' latency in ms per minute, from their
  intended times, with its interval: a server that slows as it runs.

Only a managed target has a process to sample; an external one has no such values, and an
SLO naming one is then inconclusive.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import Estimate
from harness.analysis.trend import slope_estimate
from harness.clock import NS_PER_S
from harness.contracts import Scalar

MIB = 2**20
BASELINE_SAMPLES = 3  # the first few samples, so one early spike is not the baseline
RUN_LONG_ENOUGH_S = 30.0  # shorter runs show the section only when an SLO names one of its values
GAUGES = {"rss": ("rss_bytes", MIB), "fds": ("num_fds", 1), "threads": ("num_threads", 1)}
SCALARS = ("rss_growth", "rss_slope", "fd_growth", "thread_growth", "latency_drift")


def _measured_samples(telemetry: pd.DataFrame | None, span: tuple[float, float]) -> pd.DataFrame:
    if telemetry is None or "rss_bytes" not in telemetry:
        return pd.DataFrame()
    t_s = telemetry["t_ns"].to_numpy(np.int64) / NS_PER_S
    return telemetry[(t_s >= span[0]) & (t_s <= span[1])].dropna(subset=["rss_bytes"])


def _gauge(samples: pd.DataFrame, column: str, scale: float) -> dict[str, Any] | None:
    if column not in samples or samples[column].isna().all():
        return None
    values = samples[column].to_numpy(dtype=float) / scale
    values = values[np.isfinite(values)]
    return {"samples": int(values.size), "start": float(np.median(values[:BASELINE_SAMPLES])),
            "max": float(values.max()), "end": float(np.median(values[-BASELINE_SAMPLES:]))}


def _trend(estimate: Estimate, unit: str) -> dict[str, Any]:
    return {"estimate": estimate.value, "ci": [estimate.lo, estimate.hi], "unit": unit, "n": estimate.n,
            "method": estimate.method}


def _latency_trend(records: pd.DataFrame, confidence: float) -> Estimate:
    measured = records[~records["in_warmup"] & records["error_kind"].isna()]
    minutes = measured["intended_ns"].to_numpy(np.int64) / NS_PER_S / 60.0
    latency_ms = (measured["done_ns"].to_numpy(np.int64) - measured["intended_ns"].to_numpy(np.int64)) / 1e6
    return slope_estimate(minutes, latency_ms, confidence)


def _scalars(gauges: dict[str, Any], rss_slope: Estimate, drift: Estimate) -> dict[str, Scalar]:
    scalars = {"latency_drift": Scalar(drift.value, "ms/min", (drift.lo, drift.hi), n=drift.n,
                                       n_effective=drift.n_effective, method=drift.method)}
    if gauges["rss"]:
        rss = gauges["rss"]
        scalars["rss_growth"] = Scalar(rss["max"] / rss["start"] - 1.0, "ratio", n=rss["samples"],
                                       method="largest sampled RSS over the median of the first three samples")
        scalars["rss_slope"] = Scalar(rss_slope.value, "MiB/min", (rss_slope.lo, rss_slope.hi), n=rss_slope.n,
                                      n_effective=rss_slope.n_effective, method=rss_slope.method)
    for name, gauge in (("fd_growth", gauges["fds"]), ("thread_growth", gauges["threads"])):
        if gauge:
            scalars[name] = Scalar(gauge["end"] - gauge["start"], "count", n=gauge["samples"],
                                   method="median of the last three samples less that of the first three")
    return scalars


def _applies(inp: SectionInput) -> bool:
    named = any(slo.metric in SCALARS for slo in inp.slos)
    span = inp.timeline.measured
    return named or (span[1] - span[0] >= RUN_LONG_ENOUGH_S and not _measured_samples(inp.telemetry, span).empty)


@summary_section("resources", applies=_applies)
def resources_section(inp: SectionInput) -> SectionOutput:
    samples = _measured_samples(inp.telemetry, inp.timeline.measured)
    gauges = {name: _gauge(samples, column, scale) for name, (column, scale) in GAUGES.items()}
    minutes = samples["t_ns"].to_numpy(np.int64) / NS_PER_S / 60.0 if not samples.empty else np.empty(0)
    rss = samples["rss_bytes"].to_numpy(dtype=float) / MIB if not samples.empty else np.empty(0)
    rss_slope = slope_estimate(minutes, rss, inp.spec.confidence)
    drift = _latency_trend(inp.records, inp.spec.confidence)
    section = {**gauges, "rss_slope": _trend(rss_slope, "MiB/min"), "latency_drift": _trend(drift, "ms/min")}
    series = {"t_s": minutes * 60.0, **{name: (samples[column].to_numpy(dtype=float) / scale
                                                if gauges[name] else np.empty(0))
                                         for name, (column, scale) in GAUGES.items()},
              "rss_fit": _fitted(minutes, rss, rss_slope)}
    return SectionOutput(section, series, _scalars(gauges, rss_slope, drift))


def _fitted(minutes: np.ndarray, rss: np.ndarray, slope: Estimate) -> np.ndarray:
    """The trend line the report draws through the RSS samples (least squares through their mean)."""
    if math.isnan(slope.value) or not rss.size:
        return np.empty(0)
    return rss.mean() + slope.value * (minutes - minutes.mean())
