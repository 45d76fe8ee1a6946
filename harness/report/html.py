"""report.html: one self-contained page (PNGs embedded as data URIs) from summary + series."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2
import orjson

from harness.report.formatting import bounds, in_unit, number
from harness.report.plots import LLM_FIGURES, render_plots
from harness.report.template import TEMPLATE

PERCENTILE_KEYS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean", "n")
RATE_ROWS = (("availability", "ratio"), ("error_rate", "ratio"), ("throughput", "req/s"), ("goodput", "req/s"))
LLM_KEYS = ("p50", "p90", "p95", "p99", "mean", "max", "n")
LLM_METRICS = ("ttft", "ttft_sent", "tpot", "itl", "e2e")  # summary["llm"][f"{name}_ms"], named as in SLOs
LLM_RATE_ROWS = (("output tokens/s", "output_tokens_per_s", "tok/s"), ("requests/s", "requests_per_s", "req/s"),
                 ("goodput", "goodput_req_s", "req/s"))
# Sections the template lays out itself; anything else (chaos, llm, ...) is shown as JSON.
KNOWN_SECTIONS = frozenset(
    {"schema", "scenario", "description", "verdict", "started_at", "duration_s", "target", "load", "latency_ms",
     "service_time_ms", "errors", "availability", "error_rate", "throughput", "goodput", "slos", "phases",
     "measured_duration_s", "telemetry", "analysis", "llm"}
)

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
_ENVIRONMENT.filters.update(num=number, unit=in_unit, bounds=bounds)
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE)


def render_html(run_dir: Path, summary: dict[str, Any], series: dict[str, Any]) -> Path:
    """Write the PNGs and report.html into `run_dir`; return the HTML's path."""
    uris = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in render_plots(series, run_dir).items()}
    page = _TEMPLATE.render(
        s=summary,
        images=[(name, uri) for name, uri in uris.items() if name not in LLM_FIGURES],
        llm_images=[(name, uri) for name, uri in uris.items() if name in LLM_FIGURES],
        llm_keys=LLM_KEYS,
        llm_metrics=LLM_METRICS,
        llm_rate_rows=LLM_RATE_ROWS,
        percentile_keys=PERCENTILE_KEYS,
        latency_tables=[("latency", summary["latency_ms"]), ("service time", summary["service_time_ms"])],
        rate_rows=RATE_ROWS,
        other_sections=[
            (name, orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
            for name, value in summary.items()
            if name not in KNOWN_SECTIONS
        ],
    )
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
