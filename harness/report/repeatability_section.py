"""The `repeatability` report section: per version, how far apart the answers to one payload were."""

from __future__ import annotations

from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set r = section %}
<p>Payloads answered more than once by the same version; the largest difference between two answers to one payload: {{ r.max_spread | num }}.</p>
<table class="repeatability">
  <tr><th>version</th><th>payloads repeated</th><th>answers</th><th>with differing answers</th><th>largest spread</th><th>mean std</th><th>worst payloads (id: spread over answers)</th></tr>
  {% for version, v in r.versions.items() %}
  <tr><th>v{{ version }}</th><td class="num">{{ v.payloads | num }}</td><td class="num">{{ v.answers | num }}</td>
      <td class="num">{{ v.differing | num }} ({{ (v.differing_share * 100) | num }}%)</td><td class="num">{{ v.max_spread | num }}</td>
      <td class="num">{{ v.mean_std | num }}</td>
      <td>{% for w in v.worst %}{{ w.payload_id }}: {{ w.spread | num }} over {{ w.answers }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
  {% endfor %}
</table>
"""

report_section("repeatability", ReportSection("Repeatability", TEMPLATE))
