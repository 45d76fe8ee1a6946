"""Prometheus metrics. Label children are cached so the hot path pays one dict lookup each."""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Seconds (the Prometheus base unit) with millisecond-scale resolution where SLOs live.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05,
    0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.request_latency = Histogram(
            "slogate_request_latency_seconds",
            "Server-side request latency, from request start to response sent",
            ["model", "version", "status_class"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.in_flight = Gauge("slogate_requests_in_flight", "Inference requests being served", ["model"], registry=r)
        self.queue_depth = Gauge(
            "slogate_queue_depth", "Requests waiting for a batch or a sim slot", ["model", "version"], registry=r
        )
        self.batch_size = Histogram(
            "slogate_batch_size", "Rows per executed batch", ["model", "version"], buckets=BATCH_BUCKETS, registry=r
        )
        self.load_seconds = Gauge(
            "slogate_model_load_seconds", "Duration of the last load + warm-up", ["model", "version"], registry=r
        )
        self.loaded = Gauge("slogate_model_loaded", "1 while the version is loaded and ready", ["model", "version"], registry=r)
        self.inference_errors = Counter(
            "slogate_inference_errors_total", "Failed inferences (model errors, injected faults)",
            ["model", "version", "kind"], registry=r,
        )
        self.rejected = Counter(
            "slogate_rejected_total", "Requests answered 429 because a queue was full", ["model", "version"], registry=r
        )
        self.cold_start = Gauge(
            "slogate_cold_start_latency_seconds", "Latency of the first request after a load", ["model", "version"], registry=r
        )
        self.load_failures = Counter(
            "slogate_model_load_failures_total", "Versions refused at load (bad sha256, bad spec)", ["model", "version"], registry=r
        )

    @lru_cache(maxsize=4096)
    def latency_child(self, model: str, version: str, status: int) -> Histogram:
        return self.request_latency.labels(model, version, STATUS_CLASSES.get(status // 100, "other"))

    @lru_cache(maxsize=1024)
    def in_flight_child(self, model: str) -> Gauge:
        return self.in_flight.labels(model)

    def render(self) -> bytes:
        return generate_latest(self.registry)
