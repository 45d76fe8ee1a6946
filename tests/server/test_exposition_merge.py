"""Merging worker processes' expositions (exposition_merge.py) against one process that saw it all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reference_server.exposition_merge import merge_expositions
from reference_server.metrics import ACROSS_WORKERS, Metrics

LABELS = ("a", "b")
MODES = {"g_sum": "sum", "g_max": "max", "g_min": "min"}

# One worker's events per label: counter increments, histogram observations, a gauge value.
worker_events = st.fixed_dictionaries({
    label: st.fixed_dictionaries({
        "incs": st.lists(st.integers(1, 5), max_size=4),
        "observed": st.lists(st.sampled_from([0.001, 0.05, 0.3, 2.0, 30.0]), max_size=4),
        "gauge": st.integers(-3, 10),
    }) for label in LABELS
})


def exposition(events: list[dict[str, dict]], gauge_values: dict[str, dict[str, float]] | None = None) -> bytes:
    """A registry that saw every event of `events`; its gauges set to `gauge_values` (by name,
    label), or, for one worker, to that worker's values."""
    r = CollectorRegistry()
    counter = Counter("c_total", "c", ["l"], registry=r)
    histogram = Histogram("h", "h", ["l"], registry=r, buckets=(0.01, 0.1, 1.0))
    gauges = {name: Gauge(name, name, ["l"], registry=r) for name in MODES}
    for worker in events:
        for label, seen in worker.items():
            counter.labels(label).inc(sum(seen["incs"]))
            for value in seen["observed"]:
                histogram.labels(label).observe(value)
    for name, gauge in gauges.items():
        for label in LABELS:
            gauge.labels(label).set(gauge_values[name][label] if gauge_values else events[0][label]["gauge"])
    return generate_latest(r)


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples
            if not s.name.endswith("_created")}


@settings(max_examples=40, deadline=None)
@given(st.lists(worker_events, min_size=1, max_size=4))
def test_counters_and_histograms_add_up_and_gauges_follow_their_mode(workers: list[dict[str, dict]]) -> None:
    merged = merge_expositions([exposition([w]) for w in workers], MODES)
    combine = {"sum": sum, "max": max, "min": min}
    gauges = {name: {label: combine[mode](w[label]["gauge"] for w in workers) for label in LABELS}
              for name, mode in MODES.items()}
    assert samples(merged) == pytest.approx(samples(exposition(workers, gauges)))


def test_created_timestamps_take_the_earliest() -> None:
    def created(value: float) -> bytes:
        return f"# TYPE c_created gauge\nc_created{{l=\"a\"}} {value}\n".encode()

    merged = merge_expositions([created(20.0), created(10.0), created(30.0)], {})
    assert 'c_created{l="a"} 10.0' in merged.decode()


def test_every_server_gauge_says_how_workers_combine() -> None:
    gauges = {family.name for family in Metrics().registry.collect() if family.type == "gauge"}
    assert gauges == set(ACROSS_WORKERS)
