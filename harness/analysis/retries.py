"""The `retries` section: what a client retry policy cost the server and bought the users.

- `retry_amplification`: attempts per intended request (1.0: nothing was retried), the
  mean of each measured request's attempts with a t-interval over batch means where the
  attempts come in bursts (a storm is one long burst);
- the retries sent per second beside the first attempts (the storm itself, on the report's
  figure), and their peak;
- why requests were retried (5xx, 429, timeout, connect, reset), and how many requests a
  retry rescued (answered after failing) or could not (failed after retrying).

Per window, `mean(attempts) < 1.2 in after(errors)` judges the same thing through the
`attempts` per-request metric (measurements.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.estimators import mean_estimate
from harness.analysis.measurements import attempts, retries_per_request
from harness.analysis.samples import Sample
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.clock import NS_PER_S
from harness.contracts import Scalar

BIN_S = 1.0  # the retries-per-second series' bins


def _retry_times_s(records: pd.DataFrame) -> np.ndarray:
    sent = [np.asarray(times, np.int64) for times in records["retry_sent_ns"] if times is not None and len(times)]
    return np.concatenate(sent) / NS_PER_S if sent else np.empty(0)


def _per_second(times_s: np.ndarray, end_s: float) -> np.ndarray:
    edges = np.arange(0.0, max(end_s, BIN_S) + BIN_S, BIN_S)
    return np.histogram(times_s, edges)[0].astype(np.float64) / BIN_S


def _reasons(records: pd.DataFrame) -> dict[str, int]:
    counts = Counter(reason for because in records["retried_because"] if because is not None for reason in because)
    return dict(counts.most_common())


def _amplification(measured: pd.DataFrame, confidence: float) -> dict[str, Any]:
    # one-sided bounds at the run's confidence, as every scalar's interval
    per_request = attempts(measured.sort_values("intended_ns", kind="stable"))
    estimate = mean_estimate(Sample.of(per_request, confidence), 2 * confidence - 1)
    return {"estimate": estimate.value, "ci": [estimate.lo, estimate.hi], "n": int(per_request.size),
            "method": estimate.method}


def _outcomes(measured: pd.DataFrame) -> dict[str, int]:
    retried = retries_per_request(measured) > 0
    failed = measured["error_kind"].notna().to_numpy()
    return {"retried": int(retried.sum()), "rescued": int((retried & ~failed).sum()),
            "failed_after_retrying": int((retried & failed).sum())}


def _applies(inp: SectionInput) -> bool:
    return bool(inp.records["retry_sent_ns"].notna().any()) or any(slo.metric == "retry_amplification"
                                                                    for slo in inp.slos)


@summary_section("retries", applies=_applies)
def retries_section(inp: SectionInput) -> SectionOutput:
    records = inp.records
    measured = records[~records["in_warmup"]]
    amplification = _amplification(measured, inp.spec.confidence)
    retry_rate = _per_second(_retry_times_s(records), inp.end_s)
    first_rate = _per_second(records["sent_ns"].to_numpy(np.int64) / NS_PER_S, inp.end_s)
    section = {
        "requests": len(measured),
        "attempts": int(len(measured) + retries_per_request(measured).sum()),
        "retry_amplification": amplification,
        "because": _reasons(measured),
        **_outcomes(measured),
        "peak_retries_per_s": float(retry_rate.max(initial=0.0)),
    }
    series = {"t_s": np.arange(retry_rate.size) * BIN_S, "retries_per_s": retry_rate, "first_per_s": first_rate}
    scalar = Scalar(amplification["estimate"], "x", tuple(amplification["ci"]), n=amplification["n"],
                    method=f"attempts per measured request, {amplification['method']}")
    return SectionOutput(section, series, {"retry_amplification": scalar})
