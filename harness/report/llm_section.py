"""The `llm` report section: TTFT, TPOT, ITL and E2E with bounds, token rates, and two figures."""

from __future__ import annotations

from harness.report.plots import llm_distributions, tokens_per_second
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set llm = section %}
<table id="llm-latency">
  <tr><th>metric (ms)</th>{% for key in ("p50", "p90", "p95", "p99", "mean", "max", "n") %}<th>{{ key }}</th>{% endfor %}</tr>
  {% for name in ("ttft", "ttft_sent", "tpot", "itl", "e2e") %}{% set row = llm[name ~ "_ms"] %}
  <tr><th><code>{{ name }}</code></th>{% for key in ("p50", "p90", "p95", "p99", "mean", "max", "n") %}<td class="num">{% if key == "n" %}{{ row.n | num }}{% else %}{{ row[key] | unit("ms") }}{% if row.ci[key] %}<br><span class="muted">{{ row.ci[key] | bounds("ms") }}</span>{% endif %}{% endif %}</td>{% endfor %}</tr>
  {% endfor %}
</table>
<table id="llm-rates">
  <tr><th></th><th>estimate</th><th>bounds</th><th>n</th><th>method</th></tr>
  {% for label, key, unit_name in (("output tokens/s", "output_tokens_per_s", "tok/s"), ("requests/s", "requests_per_s", "req/s"), ("goodput", "goodput_req_s", "req/s")) %}{% set row = llm[key] %}
  <tr><th>{{ label }}</th><td class="num">{{ row.estimate | unit(unit_name) }}</td><td class="num">{{ row.ci | bounds(unit_name) }}</td>
      <td class="num">{{ row.n | num }}</td><td>{{ row.method }}</td></tr>
  {% endfor %}
  {% for label, key in (("prompt tokens", "prompt_tokens"), ("output tokens", "output_tokens")) %}{% set row = llm[key] %}
  <tr><th>{{ label }}</th><td class="num" colspan="4">{{ row.total | num }} in all, {{ row.mean | num }} per request (n = {{ row.n | num }})</td></tr>
  {% endfor %}
</table>
<p class="muted">Requests after warm-up (a failed one counts as ∞), by vLLM's definitions: <code>ttft</code> and <code>e2e</code> run from the
<em>intended</em> send time, <code>ttft_sent</code> from the actual send; <code>tpot</code> = (e2e − ttft)/(tokens − 1);
<code>itl</code> pools every gap between chunks. Bounds under p50/p90/p99 are one-sided at {{ (llm.ttft_ms.confidence * 100) | num }}% each.
Goodput counts requests meeting every per-request SLO (an undefined tpot, of a one-token reply, meets it).</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

LLM = ReportSection("LLM", TEMPLATE, {"llm_distributions": llm_distributions, "tokens_per_second": tokens_per_second})
report_section("llm", LLM)
