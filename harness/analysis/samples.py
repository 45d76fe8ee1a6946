"""Which requests SLOs judge, and their metric values, each computed once per run.

Every request after warm-up is judged. For a censored metric (latency, service time, TTFT,
E2E, ...) a request that failed counts as +inf: it never delivered an answer, so it is
slower than any threshold, and a server that fails fast cannot look fast. A timeout, a
reset, a 503 answered in 1 ms and a response with NaN outputs all count alike; the time
each took to fail stays in the records. Values a metric leaves undefined for a successful
request (the TPOT of a one-token reply) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.dependence import Dependence, assess
from harness.analysis.metrics import Metric, get_metric
from harness.clock import NS_PER_S

FAILED = np.inf


@dataclass(frozen=True)
class Sample:
    """A metric's judged values: sorted, and in the time order of their requests."""

    ordered: np.ndarray  # ascending; failures (+inf) last
    in_time: np.ndarray  # the same values by the intended time of their requests
    units: int  # independent units behind the values: requests, even where a request gives many values
    dependence: Dependence

    @property
    def size(self) -> int:
        return int(self.ordered.size)

    @property
    def censored(self) -> int:
        """How many values are failed requests, counted as +inf."""
        return int(np.isinf(self.ordered).sum())

    def answered(self) -> np.ndarray:
        """The sorted finite values: what successful requests measured."""
        return self.ordered[: self.size - self.censored]

    @classmethod
    def of(cls, in_time: np.ndarray, confidence: float = 0.95) -> Sample:
        """One value per request, in time order (failures as +inf): the judged sample of them."""
        values = np.asarray(in_time, dtype=np.float64)
        values = values[~np.isnan(values)]
        return cls(np.sort(values), values, int(values.size), assess(values, confidence))


class RunSamples:
    def __init__(self, records: pd.DataFrame, duration_s: float, confidence: float = 0.95,
                 window_s: tuple[float, float] | None = None, times_s: np.ndarray | None = None) -> None:
        self.records = records
        self.duration_s = duration_s  # the measured seconds: the denominator of every rate
        self.window_s = window_s or (0.0, duration_s)  # where they lie, from t0
        self.confidence = confidence
        self.measured = ~records["in_warmup"].to_numpy(dtype=bool)
        self.ok = records["error_kind"].isna().to_numpy(dtype=bool)
        self.judged_rows = self.measured & self.ok
        # each request's place on the timeline rates are counted over: its intended time, or
        # within a window of several stretches, the time since the window began with the gaps cut out
        self.times_s = records["intended_ns"].to_numpy(np.int64) / NS_PER_S if times_s is None else times_s
        self.time_order = np.argsort(self.times_s, kind="stable")
        self._values: dict[str, np.ndarray] = {}
        self._judged: dict[str, Sample] = {}

    def within(self, intervals: tuple[tuple[float, float], ...], in_flight_cut_s: tuple[float, ...] = ()) -> RunSamples:
        """The requests intended inside `intervals` (seconds from t0), less those still in
        flight at any instant of `in_flight_cut_s`, as a run of their own whose stretches are
        laid end to end, so rates and bursts are counted over them alone."""
        intended_s = self.records["intended_ns"].to_numpy(np.int64) / NS_PER_S
        done_s = self.records["done_ns"].to_numpy(np.int64) / NS_PER_S
        inside = np.zeros(intended_s.size, dtype=bool)
        times = np.zeros(intended_s.size)
        elapsed = 0.0
        for lo, hi in intervals:
            mine = (intended_s >= lo) & (intended_s < hi)
            inside |= mine
            times[mine] = intended_s[mine] - lo + elapsed
            elapsed += hi - lo
        for cut in in_flight_cut_s:
            inside &= ~((intended_s < cut) & (done_s >= cut))
        return RunSamples(self.records[inside], elapsed, self.confidence, (0.0, elapsed), times[inside])

    def of_cohort(self, cohort: str) -> RunSamples:
        """The requests of one cohort, over the same time: rates count its requests alone."""
        mine = (self.records["cohort"] == cohort).to_numpy(dtype=bool)
        return RunSamples(self.records[mine], self.duration_s, self.confidence, self.window_s, self.times_s[mine])

    def measured_in_time(self, per_row: np.ndarray) -> np.ndarray:
        """A per-row array's values for the measured requests, in their time order."""
        ordered = self.time_order[self.measured[self.time_order]]
        return per_row[ordered]

    def values(self, metric: str) -> np.ndarray:
        """One value per record row (every row, warm-up and failures included, uncensored)."""
        if metric not in self._values:
            found = get_metric(metric)
            if found is None or found.pooled:
                raise KeyError(f"{metric!r} is not a per-request metric")
            self._values[metric] = np.asarray(found.fn(self.records), dtype=np.float64)
        return self._values[metric]

    def judged(self, metric: str) -> Sample:
        """The values SLOs judge: requests after warm-up, failures at +inf where censored."""
        if metric not in self._judged:
            found = get_metric(metric)
            if found is None:
                raise KeyError(f"unknown metric {metric!r}")
            in_time, units = self._pooled(found) if found.pooled else self._per_request(found)
            ordered = np.sort(in_time)
            dependence = assess(in_time, self.confidence, grouped=found.pooled)
            self._judged[metric] = Sample(ordered, in_time, units, dependence)
        return self._judged[metric]

    def _per_request(self, metric: Metric) -> tuple[np.ndarray, int]:
        values = self.values(metric.name)[self.time_order]
        measured, ok = self.measured[self.time_order], self.ok[self.time_order]
        if metric.censored:
            values = np.where(ok, values, FAILED)
        keep = measured & ~np.isnan(values)
        return values[keep], int(keep.sum())

    def _pooled(self, metric: Metric) -> tuple[np.ndarray, int]:
        """A pooled metric's values from successful requests, with one +inf per failed request
        where censored, all in their requests' time order; its units are the requests."""
        rows = self.time_order[self.measured[self.time_order]]
        values, owners = metric.fn(self.records.iloc[rows])
        values, owners = np.asarray(values, dtype=np.float64), np.asarray(owners, dtype=np.int64)
        ok = self.ok[rows]
        keep = ok[owners] & ~np.isnan(values)
        values, owners = values[keep], owners[keep]
        if metric.censored:
            failed = np.flatnonzero(~ok)
            values = np.concatenate([values, np.full(failed.size, FAILED)])
            owners = np.concatenate([owners, failed])
        order = np.argsort(owners, kind="stable")
        return values[order], int(np.unique(owners).size)
