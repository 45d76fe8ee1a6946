"""The reference server's Prometheus series that SLOs are read from: their names, labels and
histogram buckets.

The server exposes them (reference_server/metrics.py); `slogate rules` writes Prometheus
rules over them (harness/rules/profiles.py). Both read this one contract, so a changed
bucket edge or label reaches the rules without a second copy to forget.
"""

from __future__ import annotations

REQUESTS_TOTAL = "slogate_requests_total"  # answered inference requests, by HTTP status code
REQUEST_LATENCY = "slogate_request_latency_seconds"  # histogram, by status class (2xx, 5xx, ...)
TIME_TO_FIRST_TOKEN = "slogate_llm_time_to_first_token_seconds"  # histogram, LLM requests only

MODEL_LABEL = "model"
VERSION_LABEL = "version"
CODE_LABEL = "code"  # REQUESTS_TOTAL: the status code, "200", "503"
STATUS_CLASS_LABEL = "status_class"  # REQUEST_LATENCY: "2xx", "4xx", "5xx"
GOOD_STATUS_CLASS = "2xx"

# Seconds (the Prometheus base unit) with millisecond-scale resolution where SLOs live.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)
# Time to first token: a tiny model answers in ms, a large one under load in seconds.
TTFT_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
    0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
)
