"""Metric profiles: where a server's Prometheus series hold the SLIs that `slogate rules` reads.

A profile names a request counter with a status-code label (for `availability` and
`error_rate`) and, for each per-request metric of the SLO language it can serve (`latency`,
`ttft`, ...), a histogram in seconds with its bucket edges. Two are shipped: `slogate`, the
reference server (its names and buckets from slogate_common.exposition), and `vllm`, vLLM's
OpenAI server (the `vllm:` histograms, and the HTTP instrumentator's `http_requests_total`).
Another server's is a YAML file of the same shape, read with file:line:field errors.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from harness.analysis import slo as _slo_vocabulary  # noqa: F401  (registers the metrics SLOs may name)
from harness.analysis.metrics import get_metric, metric_names
from harness.fields import Strict
from harness.located import ConfigError, describe, read_located
from slogate_common import exposition as ref
from slogate_common.registry import did_you_mean

Labels = dict[str, str]


class ProfileError(ConfigError):
    """A metric profile a user must fix; str() is the located message."""


class Series(Strict):
    """Where one metric's series are, and which of their labels say model and version."""

    name: str
    model_label: str | None = None  # matched against the scenario's target.model; None: not matched
    version_label: str | None = None  # matched against a pinned target.version
    matchers: Labels = {}  # label=value matchers every series of the SLI carries (vLLM's handler)

    def labels(self, model: str | None, version: str | None, extra: Labels) -> Labels:
        """The equality matchers that pick this SLO's series."""
        picked = {**self.matchers, **extra}
        if self.model_label is not None and model is not None:
            picked[self.model_label] = model
        if self.version_label is not None and version is not None:
            picked[self.version_label] = version
        return picked


class RequestCounter(Series):
    """A counter of answered requests, by status code: the error ratio's good and total."""

    code_label: str
    good_codes: str  # a PromQL regex over code_label: the answers that spend no budget
    example_good: str  # one code of each kind, for the synthetic series of the promtool tests
    example_bad: str


class LatencyHistogram(Series):
    """A histogram of a per-request time in seconds (`name` without _bucket or _count)."""

    buckets: list[float] = Field(min_length=1)  # its `le` edges, in seconds
    good_labels: Labels = {}  # only these series' fast answers are good (the reference server: 2xx)

    @field_validator("buckets")
    @classmethod
    def _rising(cls, buckets: list[float]) -> list[float]:
        if any(edge <= 0 for edge in buckets) or buckets != sorted(set(buckets)):
            raise ValueError("bucket edges are positive seconds, in rising order, each once")
        return buckets


class MetricProfile(Strict):
    name: str
    requests: RequestCounter | None = None  # None: availability and error_rate have no SLI here
    histograms: dict[str, LatencyHistogram] = {}  # SLO metric name (latency, ttft) -> its histogram

    @field_validator("histograms")
    @classmethod
    def _time_metrics(cls, histograms: dict[str, LatencyHistogram]) -> dict[str, LatencyHistogram]:
        for metric in histograms:
            found = get_metric(metric)
            if found is None or found.pooled or found.unit != "ms":
                times = [name for name in metric_names() if (m := get_metric(name)) and not m.pooled and m.unit == "ms"]
                raise ValueError(f"{metric!r} is not a per-request time an SLO can name"
                                 f"{did_you_mean(metric, times)}; one of {', '.join(times)}")
        return histograms


_REFERENCE_LATENCY = LatencyHistogram(
    name=ref.REQUEST_LATENCY, model_label=ref.MODEL_LABEL, version_label=ref.VERSION_LABEL,
    buckets=list(ref.LATENCY_BUCKETS), good_labels={ref.STATUS_CLASS_LABEL: ref.GOOD_STATUS_CLASS},
)
SLOGATE = MetricProfile(
    name="slogate",
    requests=RequestCounter(name=ref.REQUESTS_TOTAL, model_label=ref.MODEL_LABEL, version_label=ref.VERSION_LABEL,
                            code_label=ref.CODE_LABEL, good_codes="2..", example_good="200", example_bad="500"),
    histograms={
        "latency": _REFERENCE_LATENCY,
        "e2e": _REFERENCE_LATENCY,
        "ttft": LatencyHistogram(name=ref.TIME_TO_FIRST_TOKEN, model_label=ref.MODEL_LABEL,
                                 version_label=ref.VERSION_LABEL, buckets=list(ref.TTFT_BUCKETS)),
    },
)

# vLLM 0.32 (vllm/v1/metrics/buckets.py): its defaults unless --custom-histogram-buckets changes them.
# Its histograms count finished requests only, so a failed one is no latency-SLI error there.
VLLM_REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                                120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]
VLLM_TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                     20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
_VLLM_E2E = LatencyHistogram(name="vllm:e2e_request_latency_seconds", model_label="model_name",
                             buckets=VLLM_REQUEST_LATENCY_BUCKETS)
VLLM = MetricProfile(
    name="vllm",
    # prometheus-fastapi-instrumentator groups codes into classes (2xx, 5xx) and has no model label
    requests=RequestCounter(name="http_requests_total", matchers={"handler": "/v1/chat/completions"},
                            code_label="status", good_codes="2xx", example_good="2xx", example_bad="5xx"),
    histograms={
        "latency": _VLLM_E2E,
        "e2e": _VLLM_E2E,
        "ttft": LatencyHistogram(name="vllm:time_to_first_token_seconds", model_label="model_name",
                                 buckets=VLLM_TTFT_BUCKETS),
    },
)
SHIPPED = {profile.name: profile for profile in (SLOGATE, VLLM)}


def load_profile(name_or_path: str) -> MetricProfile:
    """A shipped profile by name, or a YAML file of the same shape."""
    if name_or_path in SHIPPED:
        return SHIPPED[name_or_path]
    path = Path(name_or_path)
    if not path.suffix:
        raise ProfileError(f"--metrics {name_or_path!r}: no such profile; shipped: {', '.join(SHIPPED)}"
                           f"{did_you_mean(name_or_path, SHIPPED)}, or a YAML file")
    data, root = read_located(path, ProfileError)
    try:
        return MetricProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(describe(exc, path, root)) from None
