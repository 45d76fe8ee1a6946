"""Which requests SLOs judge, and their metric values, each computed once per run.

Latency-type SLOs are judged over *successful* requests after warm-up; failures (timeouts
included) count against availability instead (LoadGen/k6 style). Without that split, a
server that fails fast would look faster.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.metrics import get_metric
from harness.analysis.stats import sorted_finite


class RunSamples:
    def __init__(self, records: pd.DataFrame, duration_s: float) -> None:
        self.records = records
        self.duration_s = duration_s
        self.measured = ~records["in_warmup"].to_numpy(dtype=bool)
        self.ok = records["error_kind"].isna().to_numpy(dtype=bool)
        self.judged_rows = self.measured & self.ok
        self._values: dict[str, np.ndarray] = {}
        self._judged: dict[str, np.ndarray] = {}

    def values(self, metric: str) -> np.ndarray:
        """One value per record row (every row, warm-up and failures included)."""
        if metric not in self._values:
            found = get_metric(metric)
            if found is None or found.pooled:
                raise KeyError(f"{metric!r} is not a per-request metric")
            self._values[metric] = np.asarray(found.fn(self.records), dtype=np.float64)
        return self._values[metric]

    def judged(self, metric: str) -> np.ndarray:
        """Sorted finite values over successful requests after warm-up."""
        if metric not in self._judged:
            found = get_metric(metric)
            if found is None:
                raise KeyError(f"unknown metric {metric!r}")
            if found.pooled:
                raw = found.fn(self.records[self.judged_rows])
            else:
                raw = self.values(metric)[self.judged_rows]
            self._judged[metric] = sorted_finite(raw)
        return self._judged[metric]
