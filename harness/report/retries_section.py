"""The `retries` report section: what the client's retry policy sent, why, and what it bought."""

from __future__ import annotations

from harness.report.retries_plot import retries_over_time
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set r = section %}{% set a = r.retry_amplification %}
<p>{{ r.requests | num }} measured requests took {{ r.attempts | num }} attempts: a retry amplification of
<strong>{{ a.estimate | num }}×</strong> (interval {{ a.ci | bounds("x") }}, {{ a.method }}).
Retries peaked at {{ r.peak_retries_per_s | num }} per second. {{ r.retried | num }} requests were retried:
{{ r.rescued | num }} were answered after failing, {{ r.failed_after_retrying | num }} failed all the same.</p>
{% if r.because %}<table class="retries"><tr><th>retried because</th><th>retries</th></tr>
{% for reason, count in r.because.items() %}<tr><th>{{ reason }}</th><td class="num">{{ count | num }}</td></tr>{% endfor %}
</table>{% endif %}
<p class="muted">Latency counts from a request's intended time to its last attempt's answer, so the waits between
attempts are inside it; <code>mean(attempts)</code> judges the amplification in any window.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("retries", ReportSection("Retries", TEMPLATE, {"retries": retries_over_time}))
