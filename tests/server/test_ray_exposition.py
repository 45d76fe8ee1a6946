"""/metrics under --engine ray: every replica's exposition, each series labelled with its replica.
Known truth: summed over `replica`, each series is the sum of what the replicas counted."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from reference_server.metrics import Metrics
from reference_server.ray_engine.exposition import REPLICA_LABEL, merged

STATUSES = (200, 429, 503)
answers = st.lists(st.tuples(st.sampled_from(("1", "2")), st.sampled_from(STATUSES),
                             st.floats(0.0005, 2.0)), max_size=30)


def exposition(requests: list[tuple[str, int, float]]) -> str:
    metrics = Metrics()
    for version, status, latency in requests:
        metrics.request_answered("fraud", version, status, latency)
    return metrics.render({}, {}).decode()


def totals(text: str, without_replica: bool) -> dict[tuple, float]:
    summed: dict[tuple, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue  # a timestamp per series, not a count
            labels = {k: v for k, v in sample.labels.items() if not (without_replica and k == REPLICA_LABEL)}
            summed[(sample.name, tuple(sorted(labels.items())))] += sample.value
    return dict(summed)


@settings(max_examples=20, deadline=None)
@given(st.dictionaries(st.sampled_from(("a1", "b2", "c3")), answers, min_size=1))
def test_summed_over_replicas_each_series_is_the_sum_of_the_replicas(per_replica):
    texts = {replica: exposition(requests) for replica, requests in per_replica.items()}
    expected: dict[tuple, float] = defaultdict(float)
    for text in texts.values():
        for key, value in totals(text, without_replica=False).items():
            expected[key] += value
    assert totals(merged(texts).decode(), without_replica=True) == pytest.approx(dict(expected))


@settings(max_examples=10, deadline=None)
@given(st.dictionaries(st.sampled_from(("a1", "b2", "c3")), answers, min_size=1))
def test_each_series_names_the_replica_that_counted_it(per_replica):
    text = merged({replica: exposition(requests) for replica, requests in per_replica.items()}).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert sample.labels[REPLICA_LABEL] in per_replica
    counted = {replica: sum(1 for version, status, _ in requests if status == 200)
               for replica, requests in per_replica.items()}
    served = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "slogate_requests_total" and sample.labels["code"] == "200":
                served[sample.labels[REPLICA_LABEL]] += sample.value
    assert {replica: served.get(replica, 0.0) for replica in per_replica} == counted
