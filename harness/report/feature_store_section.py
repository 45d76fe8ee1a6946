"""The `feature_store` report section: how often an online feature lookup fell back, why,
what each fallback cost in latency, and the share within each fault."""

from __future__ import annotations

from harness.report.feature_store_plot import fallbacks_over_time
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set f = section %}{% set r = f.fallback %}
<p>{{ r.k | num }} of {{ r.n | num }} answers had their stored features filled by a fallback
({{ (r.share * 100) | num }}%, interval {{ r.ci | bounds("ratio") }}).{% if f.latency_cost %}
A fallback-served answer took {{ f.latency_cost.shift_ms | num }} ms longer than a store-served one
(interval {{ f.latency_cost.ci | bounds("ms") }}; medians {{ f.latency_cost.fallback_p50_ms | num }} and
{{ f.latency_cost.store_p50_ms | num }} ms).{% endif %}</p>
{% if f.reasons %}<table class="feature-store">
  <tr><th>fell back because</th><th>answers</th><th>p50 (ms)</th><th>p99 (ms)</th><th>cost over the store (ms)</th><th>interval</th></tr>
  {% for reason, row in f.reasons.items() %}
  <tr><th>{{ reason }}</th><td class="num">{{ row.n | num }}</td><td class="num">{{ row.latency_ms.p50 | num }}</td>
      <td class="num">{{ row.latency_ms.p99 | num }}</td>
      {% if row.latency_cost %}<td class="num">{{ row.latency_cost.shift_ms | num }}</td><td class="num">{{ row.latency_cost.ci | bounds("ms") }}</td>
      {% else %}<td colspan="2" class="muted">too few answers</td>{% endif %}</tr>
  {% endfor %}
</table>{% endif %}
{% if f.faults %}<table class="feature-store-faults">
  <tr><th>fault</th><th>from (s)</th><th>to (s)</th><th>answers in it</th><th>fell back</th><th>interval</th></tr>
  {% for fault in f.faults %}
  <tr><th>{{ fault.label }}</th><td class="num">{{ fault.start_s | num }}</td><td class="num">{{ fault.end_s | num }}</td>
      <td class="num">{{ fault.fallback.n | num }}</td><td class="num">{{ (fault.fallback.share * 100) | num }}%</td>
      <td class="num">{{ fault.fallback.ci | bounds("ratio") }}</td></tr>
  {% endfor %}
</table>{% endif %}
<p class="muted">Each answer says where its features came from (<code>x-feature-source</code>); the cost is the
Hodges-Lehmann shift of fallback-served over store-served latency, from the intended send time.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("feature_store", ReportSection("Feature store", TEMPLATE, {"feature_store": fallbacks_over_time}))
