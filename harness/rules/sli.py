"""An SLO's budget (harness/analysis/budget.py's Objective) as a Prometheus SLI: the bad share
of requests over a window, `1 - good / total`, read from a metric profile's series.

- `availability` and `error_rate`: good answers are the request counter's `good_codes`;
- a percentile of a per-request time below a threshold: good answers sit in the histogram's
  bucket at the threshold (and, where the profile says so, carry a good status), out of all
  the histogram counted. A histogram knows only its bucket edges, so a threshold between two
  is rounded down to the edge below (answers between the two count as slow: the SLI errs
  towards alerting), or up to the first edge when it lies below every edge; the SLI's note
  says which, and the rule file prints it.

Anything else (a cohort's SLO, run-level values such as drift or cold starts) has no SLI and
is reported as skipped with its reason, never dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

from harness.analysis.budget import Objective
from harness.analysis.slo import SLO
from harness.rules.profiles import Labels, LatencyHistogram, MetricProfile, RequestCounter


@dataclass(frozen=True)
class Selector:
    """A PromQL series selector: a metric name, equality matchers, regex matchers."""

    name: str
    equal: Labels = field(default_factory=dict)
    regex: Labels = field(default_factory=dict)

    def promql(self) -> str:
        matchers = [f"{k}={_quoted(v)}" for k, v in self.equal.items()] + [f"{k}=~{_quoted(v)}" for k, v in self.regex.items()]
        return f"{self.name}{{{','.join(matchers)}}}"


@dataclass(frozen=True)
class Sli:
    objective: Objective
    good: Selector
    total: Selector
    counted_in: tuple[tuple[Selector, int, int], ...]  # concrete series: (series, counts good, counts bad)
    note: str | None = None  # how the SLO had to be approximated

    def synthetic(self, good: float, bad: float) -> list[tuple[Selector, float]]:
        """Each concrete series' increase when `good` answers and `bad` ones arrive (promtool tests)."""
        return [(series, good * counts_good + bad * counts_bad) for series, counts_good, counts_bad in self.counted_in]

    def error_ratio(self, window: str) -> str:
        return (f"1 - (\n  sum(rate({self.good.promql()}[{window}]))\n  /\n"
                f"  sum(rate({self.total.promql()}[{window}]))\n)")


@dataclass(frozen=True)
class Skipped:
    expr: str
    reason: str


def skip_reason(slo: SLO) -> str:
    """Why an SLO sets no budget of bad requests (Objective.from_slo gave None)."""
    if slo.cohort is not None:
        return "a cohort's SLO counts only its own requests, and the server's series do not say which those are"
    return "no Prometheus SLI: only availability, error_rate and `pN(time) < threshold` read as shares of bad requests"


def sli_for(objective: Objective, profile: MetricProfile, model: str | None, version: str | None,
            extra: Labels) -> Sli | Skipped:
    if objective.metric is None:
        if profile.requests is None:
            return Skipped(objective.expr, f"the {profile.name!r} metric profile has no request counter")
        return _error_ratio_sli(objective, profile.requests, profile.requests.labels(model, version, extra))
    histogram = profile.histograms.get(objective.metric)
    if histogram is None:
        return Skipped(objective.expr, f"the {profile.name!r} metric profile has no histogram for "
                                       f"{objective.metric} (it has {', '.join(profile.histograms) or 'none'})")
    return _latency_sli(objective, histogram, histogram.labels(model, version, extra))


def _error_ratio_sli(objective: Objective, counter: RequestCounter, labels: Labels) -> Sli:
    good_series = Selector(counter.name, {**labels, counter.code_label: counter.example_good})
    bad_series = Selector(counter.name, {**labels, counter.code_label: counter.example_bad})
    return Sli(objective, Selector(counter.name, labels, {counter.code_label: counter.good_codes}),
               Selector(counter.name, labels), ((good_series, 1, 0), (bad_series, 0, 1)))


def _latency_sli(objective: Objective, histogram: LatencyHistogram, labels: Labels) -> Sli:
    edge, note = bucket_edge(objective.threshold / 1e3, histogram.buckets)
    good_labels = {**labels, **histogram.good_labels}
    le = floatToGoString(edge)  # as Python's prometheus_client writes `le`, which Prometheus 2 matches as text
    good = Selector(f"{histogram.name}_bucket", {**good_labels, "le": le})
    counted = Selector(f"{histogram.name}_count", good_labels)  # a bad answer here is a slow one
    return Sli(objective, good, Selector(f"{histogram.name}_count", labels), ((good, 1, 0), (counted, 1, 1)), note)


def bucket_edge(threshold_s: float, edges: list[float]) -> tuple[float, str | None]:
    """The histogram edge a latency threshold is read at, and a note when it is not the threshold itself."""
    for edge in edges:
        if math.isclose(edge, threshold_s, rel_tol=1e-9):
            return edge, None
    below = [edge for edge in edges if edge < threshold_s]
    if below:
        edge = below[-1]
        return edge, (f"threshold {_ms(threshold_s)} lies between bucket edges; read at le={floatToGoString(edge)} "
                      f"({_ms(edge)}): answers between the two count as slow, so the SLI errs towards alerting")
    edge = edges[0]
    return edge, (f"threshold {_ms(threshold_s)} lies below the first bucket edge; read at le={floatToGoString(edge)} "
                  f"({_ms(edge)}): answers between the two count as fast, so the SLI errs towards silence")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:g} ms"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
