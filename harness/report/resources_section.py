"""The `resources` report section: whether the server's memory, descriptors, threads and
latency grew over the run (what a soak and an overload judge)."""

from __future__ import annotations

from harness.report.resources_plot import resources_over_time
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set r = section %}
<table class="resources"><tr><th></th><th>start</th><th>largest</th><th>end</th><th>samples</th></tr>
{% for name, label in (("rss", "RSS (MiB)"), ("fds", "open descriptors"), ("threads", "threads")) %}
{% if r[name] %}<tr><th>{{ label }}</th><td class="num">{{ r[name].start | num }}</td><td class="num">{{ r[name].max | num }}</td>
<td class="num">{{ r[name].end | num }}</td><td class="num">{{ r[name].samples | num }}</td></tr>{% endif %}
{% endfor %}</table>
<p>RSS trend: <strong>{{ r.rss_slope.estimate | num }} MiB/min</strong> (interval {{ r.rss_slope.ci | bounds("MiB/min") }});
latency trend: <strong>{{ r.latency_drift.estimate | num }} ms/min</strong> (interval {{ r.latency_drift.ci | bounds("ms/min") }}).
A leak is a trend whose interval lies above zero.</p>
<p class="muted">{{ r.rss_slope.method }}. Samples once a second from the server process, warm-up excluded;
the start is the median of the first three samples.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("resources", ReportSection("Resources", TEMPLATE, {"resources": resources_over_time}))
