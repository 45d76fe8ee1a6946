"""The drift monitor of one tensor model version: a fixed window of what /v2 infer served.

The request path only copies each request's rows and predictions (the first output's first
column) into preallocated ring buffers (~3 µs), so memory stays fixed whatever the traffic.
Scoring (drift_scores.py) costs O(window) per feature, ~20 ms for the 14 of a fraud version
here. It runs only when /metrics or the drift route asks, at most every REFRESH_S per version
and only when rows arrived since, on a worker thread. The harness scrapes /metrics every
second, and 20 ms on the event loop each time would hold up every request arriving in 2% of
each second: a p99 that the server did not earn. Features are compared with the version's
baseline. Predictions are compared with `baseline.prediction` when model.json has one, else
with the first `min_rows` predictions served since load or the last reset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .drift_scores import (
    JENSENSHANNON_THRESHOLD,
    WASSERSTEIN_THRESHOLD,
    ContinuousReference,
    Reference,
    column_scores,
    reference_for,
)
from .errors import RequestError
from .repository import ModelSpec

if TYPE_CHECKING:
    from .backends.base import Outputs
    from .model_manager import LoadedVersion, ModelEntry

REFRESH_S = 0.5


class RingBuffer:
    """The last `capacity` rows, in one array allocated up front."""

    def __init__(self, capacity: int, width: int | None = None) -> None:
        self._data = np.empty((capacity,) if width is None else (capacity, width), np.float32)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        return len(self._data)

    def extend(self, rows: np.ndarray) -> None:
        capacity, n = len(self._data), len(rows)
        if n >= capacity:
            self._data[:] = rows[n - capacity:]
            self._next, self._count = 0, capacity
            return
        end = self._next + n
        if end <= capacity:
            self._data[self._next:end] = rows
        else:
            split = capacity - self._next
            self._data[self._next:] = rows[:split]
            self._data[:end - capacity] = rows[split:]
        self._next = end % capacity
        self._count = min(self._count + n, capacity)

    def values(self) -> np.ndarray:
        """A copy of the rows held, in storage order: the scores are about distributions, not order."""
        return self._data[:self._count].copy()

    def clear(self) -> None:
        self._next = self._count = 0


@dataclass(frozen=True)
class _Feature:
    column: int
    name: str
    reference: Reference


@dataclass(frozen=True)
class _Cached:
    at: float  # time.monotonic()
    recorded: int  # DriftMonitor._recorded when the report was computed
    report: dict[str, Any]


class DriftMonitor:
    def __init__(self, spec: ModelSpec) -> None:
        self.window, self.min_rows = spec.drift.window, spec.drift.min_rows
        self._features = _features(spec)
        self._inputs = RingBuffer(self.window, spec.inputs[0].shape[-1])
        self._predictions = RingBuffer(self.window)
        prediction = spec.baseline.prediction if spec.baseline else None
        self._baseline_prediction = reference_for(prediction) if prediction else None
        self._first_served = RingBuffer(self.min_rows) if self._baseline_prediction is None else None
        self._recorded = 0  # rows recorded since load or the last reset: a new one makes the cache stale
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()  # one scoring at a time; concurrent readers share its report

    def record(self, rows: np.ndarray, outputs: Outputs) -> None:
        """The request path: copy the rows and their predictions into the window."""
        first = next(iter(outputs.values()))
        predictions = first.reshape(len(first), -1)[:, 0]
        self._inputs.extend(rows)
        self._predictions.extend(predictions)
        first_served = self._first_served
        if first_served is not None and len(first_served) < first_served.capacity:
            first_served.extend(predictions[:first_served.capacity - len(first_served)])
        self._recorded += len(rows)

    async def report(self) -> dict[str, Any]:
        """The scores of the window, recomputed when stale (see the module docstring)."""
        async with self._lock:
            cached = self._cached
            now = time.monotonic()
            if cached is None or (cached.recorded != self._recorded and now - cached.at >= REFRESH_S):
                recorded, inputs, predictions = self._recorded, self._inputs.values(), self._predictions.values()
                reference = self._prediction_reference()
                report = await asyncio.to_thread(self._score, inputs, predictions, reference)
                self._cached = cached = _Cached(now, recorded, report)
            return cached.report

    async def reset(self) -> None:
        """Forget the window (and a first-served prediction reference): what is served from now on
        is compared with the baseline afresh, as after a fix or an accepted change of traffic."""
        async with self._lock:  # a scoring in progress would otherwise cache the forgotten rows
            self._inputs.clear()
            self._predictions.clear()
            if self._first_served is not None:
                self._first_served.clear()
            self._recorded, self._cached = 0, None

    def _prediction_reference(self) -> Reference | None:
        if self._first_served is None:
            return self._baseline_prediction
        if len(self._first_served) < self.min_rows:
            return None
        return ContinuousReference(self._first_served.values())

    def _score(self, inputs: np.ndarray, predictions: np.ndarray, reference: Reference | None) -> dict[str, Any]:
        features = {f.name: column_scores(f.reference, inputs[:, f.column], self.min_rows) for f in self._features}
        flags = [f["drifted"] for f in features.values() if f["drifted"] is not None]
        return {
            "rows": len(inputs), "window": self.window, "min_rows": self.min_rows,
            "reference": "first_served" if self._first_served is not None else "baseline",
            "features": features,
            "drifted_share": sum(flags) / len(flags) if flags else None,
            "prediction": _prediction_scores(reference, predictions, self.min_rows),
            "thresholds": {"wasserstein_norm": WASSERSTEIN_THRESHOLD, "jensenshannon": JENSENSHANNON_THRESHOLD},
            "ready": len(inputs) >= self.min_rows,
        }


def monitor_of(loaded: LoadedVersion) -> DriftMonitor:
    if loaded.drift is None:
        raise RequestError(404, f"{loaded.model}/{loaded.version} has no drift monitor "
                                f"(backend {loaded.spec.backend} serves no tensor rows)", "version")
    return loaded.drift


async def drift_reports(models: Mapping[str, ModelEntry]) -> dict[tuple[str, str], dict[str, Any]]:
    """(model, version) → report, for every loaded version with a monitor."""
    monitored = [(m, v, lv.drift) for m, e in models.items() for v, lv in e.versions.items() if lv.drift]
    reports = await asyncio.gather(*(monitor.report() for _, _, monitor in monitored))
    return {(m, v): report for (m, v, _), report in zip(monitored, reports)}


def _features(spec: ModelSpec) -> list[_Feature]:
    """The input columns the baseline describes, by name; the others have nothing to be compared with."""
    names = spec.inputs[0].feature_names or []
    stats = spec.baseline.features if spec.baseline else {}
    found = [(i, name, reference_for(stats[name])) for i, name in enumerate(names) if name in stats]
    return [_Feature(i, name, reference) for i, name, reference in found if reference is not None]


def _prediction_scores(reference: Reference | None, predictions: np.ndarray, min_rows: int) -> dict[str, Any]:
    if reference is None:  # the first-served reference is not complete yet
        return {"kind": "continuous", **dict.fromkeys((*ContinuousReference.fields, "drifted")),
                "missing_share": None}
    return column_scores(reference, predictions, min_rows)
