"""The `cold_start` report section: start-up under load, the requests that met a cold
instance, and the first answers' latency against the steady state, per version."""

from __future__ import annotations

from harness.report.cold_start_plot import cold_start_latency
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set c = section %}
<p>{% if c.start == "spawn" %}The server was spawned at {{ c.spawned_s | num }} s with the load already scheduled:
ready after {{ c.time_to_ready_ms | num }} ms{% if c.time_to_first_success_ms is not none %}, first success after {{ c.time_to_first_success_ms | num }} ms{% endif %}.
{% else %}Versions {{ (c.lazy or []) | join(", ") }} scale to zero{% if c.idle_unload_s %} after {{ c.idle_unload_s | num }} s idle{% endif %}{% if c.start == "parked" %}, parked before the load{% endif %}.
{% endif %}
{{ c.cold.k | num }} of {{ c.cold.n | num }} requests met a cold instance ({{ (c.cold.share * 100) | num }}%, interval {{ c.cold.ci | bounds("ratio") }}),
{{ c.failed_while_cold | num }} of them failed.{% if c.waits %} Those that waited for a load waited {{ c.waits.p50_ms | num }} ms at the median, {{ c.waits.max_ms | num }} ms at most.{% endif %}</p>
<table class="cold-start">
  <tr><th>version</th><th>pool</th><th>requests</th><th>met cold</th><th>interval</th><th>first answers</th><th>p50 first / steady (ms)</th>
      <th>penalty (×)</th><th>interval</th><th>first max / steady p99 (ms)</th></tr>
  {% for v in c.versions %}{% set p = v.penalty %}
  <tr><th>v{{ v.version }}</th><td>{{ v.pool }}</td><td class="num">{{ v.cold.n | num }}</td>
      <td class="num">{{ v.cold.k | num }} ({{ (v.cold.share * 100) | num }}%)</td><td class="num">{{ v.cold.ci | bounds("ratio") }}</td>
      <td class="num">{{ p.first_n | num }}</td>
      {% if p.ratio is not none %}<td class="num">{{ p.first_p50_ms | num }} / {{ p.steady_p50_ms | num }}</td><td class="num">{{ p.ratio | num }}</td>
      <td class="num">[{{ p.ci[0] | num }}, {{ p.ci[1] | num }}]</td><td class="num">{{ p.first_max_ms | num }} / {{ p.steady_p99_ms | num }}</td>
      {% else %}<td colspan="4" class="muted">too few answers to compare ({{ p.first_n }} first, {{ p.steady_n }} steady)</td>{% endif %}</tr>
  {% endfor %}
</table>
<p class="muted">A request met a cold instance when it was intended before the spawned server was ready, or when the server said
(<code>x-cold-start</code>) that it waited for a version to load. First answers: {% if c.start == "spawn" %}the first {{ c.first_successes }} successes of each version{% else %}the successful cold requests{% endif %};
steady state: the warm successes intended from {{ c.steady_after_s | num }} s on. The penalty is the ratio of their median latencies from the intended time, with a bootstrap interval.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("cold_start", ReportSection("Cold start", TEMPLATE, {"cold_start": cold_start_latency}))
