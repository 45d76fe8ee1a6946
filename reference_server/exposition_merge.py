"""Several processes' Prometheus expositions of the same metrics, as the one exposition of the whole.

Counters and histograms add up (every sample: `_total`, `_bucket`, `_count`, `_sum`); a
gauge is combined as `gauge_modes` says (metrics.py's ACROSS_WORKERS: a count of things in
flight adds up, a duration or a drift score takes the worst); `_created` timestamps take the
earliest. Parsing and writing the text are prometheus_client's; only the combining is ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

COMBINE: dict[str, Callable[[float, float], float]] = {"sum": lambda a, b: a + b, "max": max, "min": min}
CREATED = "_created"
SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def merge_expositions(texts: Iterable[bytes], gauge_modes: Mapping[str, str]) -> bytes:
    """One exposition whose every series combines that series' values across `texts`.

    A gauge family missing from `gauge_modes` takes the largest value."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[SampleKey, tuple[dict[str, str], float]]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text.decode()):
            combine = COMBINE[_mode(family, gauge_modes)]
            families.setdefault(family.name, family)
            series = values.setdefault(family.name, {})
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                seen = series.get(key)
                series[key] = (sample.labels, sample.value if seen is None else combine(seen[1], sample.value))
    return generate_latest(_Collected(families, values))  # type: ignore[arg-type]


def _mode(family: Metric, gauge_modes: Mapping[str, str]) -> str:
    if family.name.endswith(CREATED):
        return "min"
    if family.type == "gauge":
        return gauge_modes.get(family.name, "max")
    return "sum"


class _Collected:
    """The merged families, in the shape generate_latest reads (a registry's `collect`)."""

    def __init__(self, families: Mapping[str, Metric],
                 values: Mapping[str, Mapping[SampleKey, tuple[dict[str, str], float]]]) -> None:
        self._families = families
        self._values = values

    def collect(self) -> Iterator[Metric]:
        for name, parsed in self._families.items():
            merged = Metric(parsed.name, parsed.documentation, parsed.type, parsed.unit)
            for (sample_name, _), (labels, value) in self._values[name].items():
                merged.add_sample(sample_name, labels, value)
            yield merged
