"""Built-in per-request metrics (ms) and the bare run-level names SLOs may use.

Every time is measured from the *intended* send time unless its name says otherwise, so an
open-loop generator that falls behind cannot hide the delay (no coordinated omission).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.metrics import declare_scalar, per_request_metric
from harness.clock import NS_PER_MS
from harness.records import NEVER


def _ms_between(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    later_ns = later.to_numpy(np.int64)
    earlier_ns = earlier.to_numpy(np.int64)
    values = (later_ns - earlier_ns) / NS_PER_MS
    return np.where((later_ns == NEVER) | (earlier_ns == NEVER), np.nan, values)


@per_request_metric("latency", includes_lag=True)
def latency(records: pd.DataFrame) -> np.ndarray:
    return _ms_between(records["done_ns"], records["intended_ns"])


@per_request_metric("service_time")
def service_time(records: pd.DataFrame) -> np.ndarray:
    return _ms_between(records["done_ns"], records["sent_ns"])


@per_request_metric("time_to_first_byte", includes_lag=True)
def time_to_first_byte(records: pd.DataFrame) -> np.ndarray:
    return _ms_between(records["first_byte_ns"], records["intended_ns"])


@per_request_metric("rejection_time", censored=False, includes_lag=True)
def rejection_time(records: pd.DataFrame) -> np.ndarray:
    """How fast a refusal came: the latency of requests answered 429 (others are not counted).
    Shedding load is only a mitigation when the refusal is quick enough to act on."""
    return np.where(records["status"].to_numpy() == 429, latency(records), np.nan)


@per_request_metric("accepted_latency", censored=False, includes_lag=True)
def accepted_latency(records: pd.DataFrame) -> np.ndarray:
    """The latency of the answered requests only: whether what a shedding server accepts still
    meets its SLO. It hides every failure by design; judge availability beside it."""
    return np.where(records["error_kind"].isna().to_numpy(), latency(records), np.nan)


@per_request_metric("schedule_lag", censored=False)
def schedule_lag(records: pd.DataFrame) -> np.ndarray:
    return _ms_between(records["sent_ns"], records["intended_ns"])


def retries_per_request(records: pd.DataFrame) -> np.ndarray:
    """How many times each request was sent again (0 where no retry policy ran)."""
    return records["retry_sent_ns"].map(lambda sent: 0 if sent is None else len(sent)).to_numpy(np.int64)


@per_request_metric("attempts", "x", censored=False)
def attempts(records: pd.DataFrame) -> np.ndarray:
    """How many times each request was sent: 1, plus the retries a client retry policy made.
    A failed request still made its attempts, so failures are not +inf here."""
    return 1.0 + retries_per_request(records)


# Computed by analysis itself (harness/analysis/errors.py, throughput.py).
declare_scalar("availability", "ratio")
declare_scalar("error_rate", "ratio")
declare_scalar("throughput", "req/s")
declare_scalar("goodput", "req/s")
# Computed by other experiments and handed over through AnalysisSpec.extra_scalars.
# the chaos section's (recovery.py) and the budget section's (budget.py)
declare_scalar("time_to_detect", "ms")
declare_scalar("recovery_time", "ms")
declare_scalar("restart_time", "ms")
declare_scalar("throughput_dip", "ratio")
declare_scalar("error_budget_consumed", "ratio")
declare_scalar("max_burn_rate", "x")
declare_scalar("time_to_ready", "ms")
# the fault timeline's (experiments/faults/tamper.py): reloads of a tampered artifact the server accepted
declare_scalar("tampered_loads_accepted", "count")
# the drift section's (drift.py)
declare_scalar("drift_detection_delay", "ms")
declare_scalar("false_alarm_rate", "ratio")
declare_scalar("accepted_malformed_rate", "ratio")
# the correctness section's (correctness.py): answers against a labelled sample
declare_scalar("accuracy", "ratio")
declare_scalar("auc", "ratio")
declare_scalar("auc_drop", "ratio")
declare_scalar("accuracy_drop", "ratio")
# the repeatability section's (repeatability.py), in the model's output units
declare_scalar("prediction_spread", "score")
# the serving section's (serving.py)
declare_scalar("schema_error_rate", "ratio")
declare_scalar("max_queue_depth", "count")
declare_scalar("model_load_time", "ms")
# the retries section's (retries.py)
declare_scalar("retry_amplification", "x")
# the cold_start section's (cold_start.py)
declare_scalar("cold_start_rate", "ratio")
declare_scalar("cold_start_penalty", "x")
declare_scalar("time_to_first_success", "ms")
# the security section's (security.py) and the log_audit experiment's
declare_scalar("auth_bypass_count", "count")
declare_scalar("auth_misrefused_count", "count")
declare_scalar("secrets_in_log", "count")
declare_scalar("payloads_in_log", "count")
# the feature_store section's (feature_store.py)
declare_scalar("fallback_rate", "ratio")
declare_scalar("fallback_latency_cost", "ms")
# the canary section's (canary.py)
declare_scalar("canary_score", "score")
declare_scalar("rollback_time", "ms")
# the cost section's (cost.py): the instances' price over the achieved rate
declare_scalar("cost_per_1k", "USD")
declare_scalar("cost_per_1m_tokens", "USD")  # per 1M output tokens
declare_scalar("cost_per_1m_input_tokens", "USD")
# the resources section's (resources.py): the server process over the run
declare_scalar("rss_growth", "ratio")
declare_scalar("rss_slope", "MiB/min")
declare_scalar("fd_growth", "count")
declare_scalar("thread_growth", "count")
declare_scalar("latency_drift", "ms/min")
