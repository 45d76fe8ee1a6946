"""The `canary` report section: the decision, each step's per-metric table, and the figure."""

from __future__ import annotations

from harness.report.canary_plot import canary_distributions
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set c = section %}
<p><strong>{{ c.decision | upper }}</strong>: candidate v{{ c.candidate }} against baseline v{{ c.baseline }},
score {{ c.score | num }} (pass ≥ {{ c.settings.pass_score | num }}, marginal ≥ {{ c.settings.marginal_score | num }}){% if c.deciding_step is not none %},
decided at step {{ c.deciding_step + 1 }} of {{ c.steps | length }}{% endif %}.
{% if c.rollback_s is not none %}Rolled back: the last candidate answer came {{ (c.rollback_s * 1000) | unit("ms") }} after the failing judgement.{% endif %}
{% if c.needed_requests %}Too little data: {{ c.needed_requests | num }} more requests of the smaller version are needed.{% endif %}
{% if c.failing %}Failing: {% for m in c.failing %}<code>{{ m.name }}</code>{% if not loop.last %}, {% endif %}{% endfor %}.{% endif %}</p>
{% for step in c.steps %}
<h3>Step {{ loop.index }}: candidate at {{ (step.share * 100) | num }}% from {{ step.start_s | num }} s to {{ step.end_s | num }} s
 · {{ step.outcome }} · score {{ step.score | num }} · {{ step.baseline_requests | num }} vs {{ step.candidate_requests | num }} requests</h3>
<table class="canary-step">
  <tr><th>metric</th><th>label</th><th>baseline</th><th>candidate</th><th>effect</th><th>{{ (c.settings.confidence * 100) | num }}% interval</th>
      <th>p-value</th><th>n (base / cand)</th><th>method</th></tr>
  {% for m in step.metrics %}
  <tr class="{{ 'fail' if m.label in ('high', 'low') else '' }}"><th><code>{{ m.name }}</code>{% if m.critical %} <span class="muted">critical</span>{% endif %}</th>
      <td>{{ m.label }}</td><td class="num">{{ m.baseline | num }}</td><td class="num">{{ m.candidate | num }}</td>
      <td class="num">{{ m.effect | num }} {{ m.unit }}</td><td class="num">{{ m.ci | bounds("") }}</td>
      <td class="num">{{ m.p_value | num }}</td><td class="num">{{ m.n_baseline | num }} / {{ m.n_candidate | num }}</td>
      <td>{{ m.method }}{% if m.detail %} <span class="muted">{{ m.detail }}</span>{% endif %}</td></tr>
  {% endfor %}
</table>
{% endfor %}
<p class="muted">Latency effects: the Hodges-Lehmann shift in ms (Kayenta's Mann-Whitney test, tolerance {{ c.settings.tolerance | num }}),
and each quantile's relative change; error_rate: the candidate's rate less the baseline's (Fisher's exact p); predictions: the
Wasserstein distance in baseline standard deviations, less what sampling alone shows{% if c.cohort %}, per value of
<code>{{ c.cohort }}</code>{% endif %}. A metric is high when its interval's lower end passes the allowed increase.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("canary", ReportSection("Canary judgement", TEMPLATE, {"canary_distributions": canary_distributions}))
