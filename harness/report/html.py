"""report.html: one self-contained page (PNGs embedded as data URIs) from summary + series."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2
import orjson
from markupsafe import Markup

from harness.atomic_write import atomic_path
from harness.report.formatting import bounds, in_unit, number, target_line
from harness.report.plots import render_plots
from harness.report.sections import report_sections
from harness.report.template import TEMPLATE

PERCENTILE_KEYS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean", "n", "censored")
COUNT_KEYS = ("n", "censored")
RATE_ROWS = (("availability", "ratio"), ("error_rate", "ratio"), ("throughput", "req/s"), ("goodput", "req/s"))

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
_ENVIRONMENT.filters.update(num=number, unit=in_unit, bounds=bounds, target_line=target_line)
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE)


def render_html(run_dir: Path, summary: dict[str, Any], series: dict[str, Any], sections: tuple[str, ...] = ()) -> Path:
    """Write the PNGs and report.html into `run_dir`; return the HTML's path."""
    page = _TEMPLATE.render(
        s=summary,
        images=data_uris(render_plots(series, run_dir)),
        sections=[_section(name, summary, series, run_dir) for name in sections],
        percentile_keys=PERCENTILE_KEYS,
        count_keys=COUNT_KEYS,
        latency_tables=[("latency", summary["latency_ms"]), ("service time", summary["service_time_ms"])],
        rate_rows=RATE_ROWS,
    )
    path = run_dir / "report.html"
    with atomic_path(path) as partial:
        partial.write_text(page, encoding="utf-8")
    return path


def _section(name: str, summary: dict[str, Any], series: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """A summary section as its registered report section renders it, or as JSON."""
    if name not in report_sections:
        text = orjson.dumps(summary[name], option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
        return {"name": name, "title": name, "html": Markup("<pre>{}</pre>").format(text)}
    shown = report_sections.get(name)
    images = data_uris(render_plots(series, run_dir, shown.figures))
    html = _ENVIRONMENT.from_string(shown.template).render(section=summary[name], s=summary, images=images)
    return {"name": name, "title": shown.title, "html": Markup(html)}


def data_uris(pngs: dict[str, bytes]) -> list[tuple[str, str]]:
    return [(name, "data:image/png;base64," + base64.b64encode(png).decode("ascii")) for name, png in pngs.items()]
