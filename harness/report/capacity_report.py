"""capacity.json and capacity.html for a capacity search: what was found, and every step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jinja2

from harness.report.capacity_plot import capacity_curve
from harness.report.formatting import bounds, in_unit, number
from harness.report.html import data_uris
from harness.report.plots import render_plots
from harness.report.summary import write_summary
from harness.report.template import STYLE

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>slogate capacity · {{ c.scenario }}</title>
""" + STYLE + r"""</head>
<body>
<h1>Capacity: {{ c.scenario }} <span class="badge {{ badge }}" id="result">{{ c.result | upper }}</span></h1>
{% if c.description %}<p>{{ c.description }}</p>{% endif %}
<table id="capacity">
  <tr><th>SLO-safe capacity per replica</th><td class="num">{{ c.capacity.per_replica_rps | unit("req/s") }}</td>
      <th>search</th><td>{{ c.bracket.ended_by }}</td></tr>
  <tr><th>highest passing {{ c.knob }}</th><td class="num">{{ c.bracket.highest_pass | unit(c.unit) }}</td>
      <th>lowest missing {{ c.knob }}</th><td class="num">{{ c.bracket.lowest_miss | unit(c.unit) }}</td></tr>
  <tr><th>uncertainty (lowest miss / highest pass − 1)</th><td class="num">{{ c.bracket.width | unit("ratio") }}</td>
      <th>goodput there</th><td class="num">{{ c.capacity.goodput_rps | unit("req/s") }}</td></tr>
  {% if c.capacity.tokens_per_s %}<tr><th>tokens/s at the SLO</th><td colspan="3">input {{ c.capacity.tokens_per_s.input | num }} ·
      output {{ c.capacity.tokens_per_s.output | num }}</td></tr>{% endif %}
  <tr><th>searched</th><td colspan="3">from {{ c.start | num }} {{ c.unit }}, between a floor of {{ c.floor | num }} (the lowest rate whose
      longest step, {{ c.settings.max_step_duration | unit("s") }}, holds enough requests to certify the SLOs) and a ceiling of
      {{ c.settings.ceiling | num }}</td></tr>
  <tr><th>knee</th><td colspan="3">{% if c.knee %}{{ c.knee.throughput | unit("req/s") }} at {{ c.knee.quantile }}({{ c.knee.metric }})
      {{ c.knee.latency_ms | unit("ms") }} <span class="muted">({{ c.knee.method }})</span>{% else %}— (fewer than 3 distinct steps){% endif %}</td></tr>
</table>
<p class="muted">SLOs: {% for expr in c.slos %}<code>{{ expr }}</code>{% if not loop.last %}, {% endif %}{% endfor %}, each certified at
{{ c.confidence | unit("ratio") }} confidence. A step passes when every SLO does; a step that passed while its latency kept rising is
over-saturated and counts as a miss{% if c.settings.confirm_misses %}; every miss was run a second time before it counted{% endif %}.
The operating point is the highest passing step, not the knee.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}

{% if c.replicas %}
<h2>Replicas for the peak</h2>
<table id="replicas">
  <tr><th>peak</th><td class="num">{{ c.replicas.peak_rate | unit("req/s") }}</td><th>headroom</th><td class="num">{{ c.replicas.headroom | unit("ratio") }}</td></tr>
  <tr><th>replicas</th><td class="num">{{ c.replicas.replicas | num }}</td><th>utilisation at peak</th><td class="num">{{ c.replicas.utilisation_at_peak | unit("ratio") }}</td></tr>
</table>
<p class="muted">Scaling: {{ c.replicas.scaling }}.</p>
{% endif %}

{% if c.cost %}
<h2>Cost at the SLO</h2>
<table id="cost">
  <tr><th>instance</th><th>$/hour</th><th>$ per 1k requests at the SLO</th>{% if c.capacity.tokens_per_s %}<th>$ per 1M input tokens</th><th>$ per 1M output tokens</th>{% endif %}
      {% if c.replicas %}<th>fleet $/hour</th><th>fleet $/month</th><th>$ per 1k at peak</th>{% endif %}<th>price source</th></tr>
  {% for row in c.cost %}
  <tr><th>{{ row.instance }}</th><td class="num">{{ row.price_per_hour | num }}</td><td class="num">{{ row.cost_per_1k_at_slo | num }}</td>
      {% if c.capacity.tokens_per_s %}<td class="num">{{ row.cost_per_1m_input_tokens_at_slo | num }}</td><td class="num">{{ row.cost_per_1m_output_tokens_at_slo | num }}</td>{% endif %}
      {% if c.replicas %}<td class="num">{{ row.fleet_per_hour | num }}</td><td class="num">{{ row.fleet_per_month | num }}</td><td class="num">{{ row.cost_per_1k_at_peak | num }}</td>{% endif %}
      <td class="muted">{{ row.source }} ({{ row.as_of }})</td></tr>
  {% endfor %}
</table>
<p class="muted">Each instance is priced as if it served the measured capacity per replica: the measurement's, not a guess of
how another machine would do. Per 1M input and per 1M output tokens are two views of one bill, not two parts of it.</p>
{% endif %}

<h2>Every step</h2>
<table id="steps">
  <tr><th>#</th><th>{{ c.knob }}</th><th>measured</th><th>completed req/s</th><th>p50 / p90 / p99 {{ c.curve_metric }}</th><th>p99 bounds</th>
      <th>lag p99</th><th>saturation</th><th>stable</th><th>outcome</th><th>why</th></tr>
  {% for step in steps %}
  {% set m = step.figures.metrics[c.curve_metric] %}
  <tr{% if step.retried %} class="reported"{% endif %}><td class="num"><a href="{{ step.link }}">{{ step.index }}</a></td><td class="num">{{ step.rate | num }}</td>
      <td class="num">{{ step.duration_s | unit("s") }}</td><td class="num">{{ step.figures.completed_rps | num }}</td>
      <td class="num">{{ m.p50 | num }} / {{ m.p90 | num }} / {{ m.p99 | num }} ms</td><td class="num">{{ m.ci.p99 | bounds("ms") }}</td>
      <td class="num">{{ step.lag_p99_ms | unit("ms") }}</td><td class="num">{{ step.figures.saturation.slope_ms_per_s | num }} ms/s{% if step.figures.saturation.saturated %} <b>saturated</b>{% endif %}</td>
      <td>{{ step.figures.stability.stable | num }}</td><td class="{{ 'pass' if step.outcome == 'pass' else 'fail' if step.outcome == 'fail' else 'invalid' }}">{{ step.outcome }}{% if step.retried %} (run again){% endif %}</td>
      <td class="muted">{{ step.why }}</td></tr>
  {% endfor %}
</table>
</body>
</html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
_ENVIRONMENT.filters.update(num=number, unit=in_unit, bounds=bounds)
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE)
BADGES = {"bracketed": "pass", "lower bound": "inconclusive", "none passed": "fail"}


def write_capacity_report(out_dir: Path, summary: dict[str, Any]) -> Path:
    """capacity.json, capacity_curve.png and capacity.html into `out_dir`; the HTML's path."""
    write_summary(out_dir / "capacity.json", summary)
    images = data_uris(render_plots(summary, out_dir, {"capacity_curve": capacity_curve}))
    steps = [{**step, "link": os.path.relpath(Path(step["run_dir"]) / "report.html", out_dir)}
             for step in sorted(summary["steps"] + summary["retried"], key=lambda s: s["index"])]
    page = _TEMPLATE.render(c=summary, badge=BADGES[summary["result"]], steps=steps, images=images)
    path = out_dir / "capacity.html"
    path.write_text(page, encoding="utf-8")
    return path
