"""Prometheus metrics. Label children are cached so the hot path pays one dict lookup each.

Labels only ever carry names of models the server knows, so the caches stay bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from slogate_common.exposition import (
    CODE_LABEL,
    LATENCY_BUCKETS,
    MODEL_LABEL,
    REQUEST_LATENCY,
    REQUESTS_TOTAL,
    STATUS_CLASS_LABEL,
    TIME_TO_FIRST_TOKEN,
    TTFT_BUCKETS,
    VERSION_LABEL,
)

if TYPE_CHECKING:
    from .backends.base import ServedBy
    from .model_manager import ModelEntry

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
DRIFT_METHODS = ("wasserstein_norm", "ks", "jensenshannon", "psi")  # p-values judge nothing: JSON only
VERSION_LABELS = (MODEL_LABEL, VERSION_LABEL)
STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
# The statuses the server answers by itself (and an error fault's default, 500): their series
# exist from a version's load, so an error ratio's rate sees the first error, not the second scrape.
EXPECTED_STATUSES = (200, 400, 429, 500, 503)
# --workers N: how each gauge of the worker processes combines into the server's (exposition_merge.py).
# Counters and histograms add up. Drift scores are each worker's window of its share of the traffic:
# the worst one is reported, and the rows of all windows add up.
ACROSS_WORKERS = {
    "slogate_requests_in_flight": "sum",
    "slogate_queue_depth": "sum",
    "slogate_model_load_seconds": "max",  # the slowest worker's last load
    "slogate_model_loaded": "max",  # loaded (warm) in at least one worker
    "slogate_model_scaled_to_zero": "min",  # at zero in every worker: the server holds no copy
    "slogate_model_served_on": "max",
    "slogate_cold_start_latency_seconds": "max",
    "slogate_feature_drift": "max",
    "slogate_prediction_drift": "max",
    "slogate_drifted_feature_share": "max",
    "slogate_drift_window_rows": "sum",
}


@dataclass(frozen=True)
class RequestSeries:
    """One (model, version, status)'s children: its latency histogram and its request counter."""

    latency: Histogram
    count: Counter


@dataclass(frozen=True)
class LlmSeries:
    """One LLM version's children: TTFT and token counters."""

    ttft: Histogram
    prompt_tokens: Counter
    output_tokens: Counter


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()

        def per_version(kind: type, name: str, doc: str, **options: Any) -> Any:
            return kind(name, doc, VERSION_LABELS, registry=r, **options)

        self.request_latency = Histogram(
            REQUEST_LATENCY, "Server-side request latency, from request start to response sent",
            [*VERSION_LABELS, STATUS_CLASS_LABEL], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.requests = Counter(
            REQUESTS_TOTAL, "Inference requests answered, by HTTP status code (error ratios are read from it; 499: its client left first)",
            [*VERSION_LABELS, CODE_LABEL], registry=r,
        )
        self.in_flight = Gauge(
            "slogate_requests_in_flight", "Inference requests being served", ["model"], registry=r
        )
        self.queue_depth = per_version(Gauge, "slogate_queue_depth", "Requests waiting for a batch or a sim slot")
        self.batch_size = per_version(Histogram, "slogate_batch_size", "Rows per executed batch", buckets=BATCH_BUCKETS)
        self.load_seconds = per_version(Gauge, "slogate_model_load_seconds", "Duration of the last load + warm-up")
        self.loaded = per_version(Gauge, "slogate_model_loaded", "1 while the version is loaded and ready")
        self.served_on = Gauge(
            "slogate_model_served_on", "1 for the backend and device actually serving each loaded version",
            ["model", "version", "backend", "device"], registry=r,
        )
        self.inference_errors = Counter(
            "slogate_inference_errors_total", "Failed inferences (model errors, injected faults)",
            ["model", "version", "kind"], registry=r,
        )
        self.rejected = per_version(Counter, "slogate_rejected_total", "Requests answered 429 because a queue was full")
        self.cold_start = per_version(
            Gauge, "slogate_cold_start_latency_seconds", "Latency of the first request after a load",
        )
        self.parked = per_version(
            Gauge, "slogate_model_scaled_to_zero", "1 while the version is unloaded but routable (loads on demand)",
        )
        self.cold_requests = per_version(
            Counter, "slogate_cold_requests_total", "Requests that waited for a scaled-to-zero version to load",
        )
        self.load_failures = Counter(
            "slogate_model_load_failures_total", "Loads and reloads refused, by reason (sha256_mismatch, invalid_spec, ...)",
            ["model", "version", "reason"], registry=r,
        )
        self.ttft = per_version(
            Histogram, TIME_TO_FIRST_TOKEN,
            "LLM requests: from the request reaching the model to its first generated chunk", buckets=TTFT_BUCKETS,
        )
        self.prompt_tokens = per_version(
            Counter, "slogate_llm_prompt_tokens_total", "Prompt tokens of LLM requests that reached generation",
        )
        self.output_tokens = per_version(
            Counter, "slogate_llm_output_tokens_total", "Tokens generated (streamed or not, cut streams included)",
        )
        self.feature_drift = Gauge(
            "slogate_feature_drift", "Drift of a feature's window against its baseline, by method",
            ["model", "version", "feature", "method"], registry=r,
        )
        self.prediction_drift = Gauge(
            "slogate_prediction_drift", "Drift of the window's predictions against their reference, by method",
            ["model", "version", "method"], registry=r,
        )
        self.drifted_share = per_version(
            Gauge, "slogate_drifted_feature_share", "Share of scored features whose effect size passes its threshold",
        )
        self.drift_rows = per_version(Gauge, "slogate_drift_window_rows", "Rows in the drift window")
        self.feature_lookups = per_version(
            Counter, "slogate_feature_lookups_total", "Entities looked up in the online feature store (features.py)",
        )
        self.feature_hits = per_version(Counter, "slogate_feature_hits_total", "Entities the feature store answered")
        self.feature_fallbacks = Counter(
            "slogate_feature_fallbacks_total",
            "Entities whose stored features a fallback filled, by why (timeout, unavailable, miss) and with what "
            "(cached, default; none: the request was answered 503)",
            ["model", "version", "reason", "filled_by"], registry=r,
        )
        self.feature_lookup_seconds = per_version(
            Histogram, "slogate_feature_lookup_seconds", "One request's feature store round trip, answered or not",
            buckets=LATENCY_BUCKETS,
        )
        # Label children cached by hand: .labels() takes a lock and builds a tuple each call.
        self._requests: dict[tuple[str, str, int], RequestSeries] = {}
        self._in_flight: dict[str, Gauge] = {}
        self._llm: dict[tuple[str, str], LlmSeries] = {}

    def version_loaded(self, model: str, version: str, load_seconds: float, served: ServedBy) -> None:
        self.load_seconds.labels(model, version).set(load_seconds)
        self.loaded.labels(model, version).set(1)
        self.served_on.labels(model, version, served.backend, served.device).set(1)
        # Zero-valued series from the start, so rates and alerts work before the first event.
        self.rejected.labels(model, version)
        self.inference_errors.labels(model, version, "model")
        for status in EXPECTED_STATUSES:
            self.request_series(model, version, status)

    def version_unloaded(self, model: str, version: str, served: ServedBy) -> None:
        self.loaded.labels(model, version).set(0)
        self.served_on.remove(model, version, served.backend, served.device)

    def request_series(self, model: str, version: str, status: int) -> RequestSeries:
        key = (model, version, status)
        series = self._requests.get(key)
        if series is None:
            status_class = STATUS_CLASSES.get(status // 100, "other")
            series = self._requests[key] = RequestSeries(self.request_latency.labels(model, version, status_class),
                                                         self.requests.labels(model, version, str(status)))
        return series

    def request_answered(self, model: str, version: str, status: int, latency_s: float) -> None:
        series = self.request_series(model, version, status)
        series.latency.observe(latency_s)
        series.count.inc()

    def in_flight_child(self, model: str) -> Gauge:
        child = self._in_flight.get(model)
        if child is None:
            child = self._in_flight[model] = self.in_flight.labels(model)
        return child

    def llm_series(self, model: str, version: str) -> LlmSeries:
        series = self._llm.get((model, version))
        if series is None:
            series = self._llm[(model, version)] = LlmSeries(
                self.ttft.labels(model, version),
                self.prompt_tokens.labels(model, version),
                self.output_tokens.labels(model, version),
            )
        return series

    def render(self, models: Mapping[str, ModelEntry], drift: Mapping[tuple[str, str], dict[str, Any]]) -> bytes:
        """Gauges that the hot path would otherwise update per request are sampled at scrape time;
        the drift gauges are set from the drift reports (drift.py) of the versions loaded now."""
        for model, entry in models.items():
            self.in_flight_child(model).set(sum(lv.in_flight for lv in entry.versions.values()))
            for version, lv in entry.versions.items():
                self.queue_depth.labels(model, version).set(lv.queue_depth)
        self._set_drift(drift)
        return generate_latest(self.registry)

    def _set_drift(self, reports: Mapping[tuple[str, str], dict[str, Any]]) -> None:
        """Rebuilt at each scrape: unloaded versions drop out, and a score not computed yet is absent."""
        for gauge in (self.feature_drift, self.prediction_drift, self.drifted_share, self.drift_rows):
            gauge.clear()
        for (model, version), report in reports.items():
            self.drift_rows.labels(model, version).set(report["rows"])
            if report["drifted_share"] is not None:
                self.drifted_share.labels(model, version).set(report["drifted_share"])
            for feature, scores in report["features"].items():
                for method, value in _drift_values(scores):
                    self.feature_drift.labels(model, version, feature, method).set(value)
            for method, value in _drift_values(report["prediction"]):
                self.prediction_drift.labels(model, version, method).set(value)


def _drift_values(scores: dict[str, Any]) -> list[tuple[str, float]]:
    return [(m, scores[m]) for m in DRIFT_METHODS if scores.get(m) is not None]
