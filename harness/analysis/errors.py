"""Failures: what went wrong, and availability with an exact binomial interval.

Every failed request after warm-up counts, timeouts and requests cancelled at the end of
the run included: a request that never completed is the worst kind of slow.
"""

from __future__ import annotations

import pandas as pd

from harness.contracts import Scalar
from harness.analysis.stats import bounds_level, proportion_ci

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


def availability_scalars(requests: int, failures: int, confidence: float) -> dict[str, Scalar]:
    """availability and error_rate as ratios, with one-sided Clopper-Pearson bounds."""
    err_lo, err_hi = proportion_ci(failures, requests, bounds_level(confidence), METHOD)
    error_rate = failures / requests if requests else float("nan")
    return {
        "availability": Scalar(1.0 - error_rate, "ratio", (1.0 - err_hi, 1.0 - err_lo), requests),
        "error_rate": Scalar(error_rate, "ratio", (err_lo, err_hi), requests),
    }
