"""Several processes' Prometheus expositions of the same metrics, as the one exposition of the whole.

Counters and histograms add up (every sample: `_total`, `_bucket`, `_count`, `_sum`); a
gauge is combined as `gauge_modes` says (metrics.py's ACROSS_WORKERS: a count of things in
flight adds up, a duration or a drift score takes the worst); `_created` timestamps take the
earliest.

Merged line by line, by hand: prometheus_client's parser took ~4x as long as rendering the
page (benchmarks/micro/test_server.py), on the event loop of the worker being scraped. Line by
line is exact here because every page comes from the same code (metrics.py through
generate_latest): a series is spelled the same, labels in the same order, in every worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

COMBINE: dict[str, Callable[[float, float], float]] = {"sum": lambda a, b: a + b, "max": max, "min": min}
CREATED = "_created"


@dataclass
class _Family:
    header: list[str]  # its HELP and TYPE lines, as the first page wrote them
    combine: Callable[[float, float], float] = max
    series: dict[str, float] = field(default_factory=dict)  # a sample's name and labels, as written: its value


def merge_expositions(texts: Iterable[bytes], gauge_modes: Mapping[str, str]) -> bytes:
    """One exposition (Prometheus text format 0.0.4) whose every series combines that series'
    values across `texts`. A gauge family missing from `gauge_modes` takes the largest value."""
    families: dict[str, _Family] = {}
    for text in texts:
        family, first_seen = None, set()  # the families this page brings: their header lines are its own
        for line in text.decode().splitlines():
            if line.startswith("# "):
                _, keyword, name, rest = (line.split(" ", 3) + [""])[:4]
                if name not in families:
                    families[name] = _Family([])
                    first_seen.add(name)
                family = families[name]
                if name in first_seen:
                    family.header.append(line)
                if keyword == "TYPE":
                    family.combine = COMBINE[_mode(name, rest, gauge_modes)]
            elif line and family is not None:
                key, _, value = line.rpartition(" ")
                seen = family.series.get(key)
                family.series[key] = float(value) if seen is None else family.combine(seen, float(value))
    return "".join(_lines(families.values())).encode()


def _mode(name: str, kind: str, gauge_modes: Mapping[str, str]) -> str:
    if name.endswith(CREATED):
        return "min"
    if kind == "gauge":
        return gauge_modes.get(name, "max")
    return "sum"  # counter, histogram, summary


def _lines(families: Iterable[_Family]) -> Iterable[str]:
    for family in families:
        for line in family.header:
            yield line + "\n"
        for key, value in family.series.items():
            yield f"{key} {floatToGoString(value)}\n"
