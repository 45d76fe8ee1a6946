"""Failures: what went wrong, and availability with an exact binomial interval.

Every failed request after warm-up counts, timeouts and requests cancelled at the end of
the run included: a request that never completed is the worst kind of slow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.dependence import assess, indicator_effective_size
from harness.analysis.stats import bounds_level, proportion_ci
from harness.contracts import Scalar

METHOD = "clopper-pearson"  # exact coverage; Wilson can dip below nominal near 0 errors


def error_breakdown(records: pd.DataFrame) -> dict:
    failed = records[records["error_kind"].notna()]
    by_status = failed["status"].value_counts()
    by_kind = failed["error_kind"].value_counts()
    return {
        "total": len(failed),
        "by_status": {str(code): int(count) for code, count in sorted(by_status.items())},
        "by_kind": {str(kind): int(count) for kind, count in sorted(by_kind.items())},
    }


def availability_scalars(failed_in_time: np.ndarray, confidence: float) -> dict[str, Scalar]:
    """availability and error_rate as ratios, with one-sided Clopper-Pearson bounds; at the
    effective sample size when failures come in bursts (they usually do)."""
    requests, failures = int(failed_in_time.size), int(failed_in_time.sum())
    dependence = assess(failed_in_time.astype(np.float64), confidence)
    n_effective = indicator_effective_size(failed_in_time, dependence)
    if n_effective is None:
        err_lo, err_hi = proportion_ci(failures, requests, bounds_level(confidence), METHOD)
    else:
        err_lo, err_hi = proportion_ci(failures * n_effective / requests, n_effective, bounds_level(confidence), METHOD)
    error_rate = failures / requests if requests else float("nan")
    method = f"{METHOD}, {dependence.method}"
    return {
        "availability": Scalar(1.0 - error_rate, "ratio", (1.0 - err_hi, 1.0 - err_lo), requests, n_effective, method),
        "error_rate": Scalar(error_rate, "ratio", (err_lo, err_hi), requests, n_effective, method),
    }
