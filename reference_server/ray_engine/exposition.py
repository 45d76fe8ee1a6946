"""One Prometheus exposition from every replica's: each series gains a `replica` label.

Per-replica series, not pre-summed ones: a sum beside them would be counted twice by any
`sum(...)`, and a replica's counters must reset on their own when Serve replaces it (a
summed counter would drop, which Prometheus reads as a reset of the whole service). Sum
with `sum without (replica) (...)`; slogate's telemetry sums every label set already.
prometheus_client parses and renders, so the text format stays its (escaping, histograms,
`_created`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

REPLICA_LABEL = "replica"


def merged(expositions: Mapping[str, str]) -> bytes:
    """The families of every replica's exposition (keyed by replica id), their samples labelled."""
    families: dict[str, Metric] = {}
    for replica in sorted(expositions):
        for family in text_string_to_metric_families(expositions[replica]):
            into = families.setdefault(family.name, Metric(family.name, family.documentation, family.type, family.unit))
            into.samples.extend(_labelled(family.samples, replica))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(list(families.values())))
    return generate_latest(registry)


def _labelled(samples: Iterable[Sample], replica: str) -> list[Sample]:
    return [sample._replace(labels={**sample.labels, REPLICA_LABEL: replica}) for sample in samples]


class _Fixed:
    """A collector of families already built."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families
