"""The `security` report section: how each kind of request of a security mix ended, and
which lines of the server's log held a secret or a payload."""

from __future__ import annotations

from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set s = section %}
{% if s.kinds %}
<p>{{ s.bad_requests | num }} bad requests: {{ s.bypasses | num }} answered 2xx (bypasses),
{{ s.misrefused | num }} failed otherwise than 401 or 403.</p>
<table class="security">
  <tr><th>kind</th><th>requests</th><th>answered 2xx</th><th>401</th><th>403</th><th>other failures</th><th>refused</th></tr>
  {% for kind, k in s.kinds.items() %}
  <tr><th>{{ kind }}</th><td class="num">{{ k.requests | num }}</td><td class="num">{{ k.answered_2xx | num }}</td>
      <td class="num">{{ k.refused["401"] | num }}</td><td class="num">{{ k.refused["403"] | num }}</td>
      <td class="num">{{ k.other_failures | num }}</td><td class="num">{{ (k.refused_share * 100) | num }}%</td></tr>
  {% endfor %}
</table>
{% endif %}
{% if s.log %}{% set g = s.log %}
<p>The server log ({{ g.log }}, {{ g.lines | num }} lines) was searched for {{ g.searched | join(", ") }}
and {{ g.payload_values | num }} payload values: {{ g.secret_lines | num }} lines held a secret,
{{ g.payload_lines | num }} a payload value.{% if g.hits %} Lines:
{% for hit in g.hits %}{{ hit.line }} ({{ hit.found | join(", ") }}){% if not loop.last %}, {% endif %}{% endfor %}{% if g.hits_listed < g.secret_lines + g.payload_lines %}, ...{% endif %}.{% endif %}</p>
{% endif %}
"""

report_section("security", ReportSection("Security", TEMPLATE))
