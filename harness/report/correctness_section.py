"""The `correctness` report section: accuracy and AUC per version and drift state, and each
drifted state's drop against its version's undrifted requests."""

from __future__ import annotations

from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set c = section %}
<p>Answers against the labels the payloads carried: {{ c.overall.n | num }} requests, {{ c.overall.positives | num }} positive;
accuracy {{ (c.overall.accuracy * 100) | num }}% at the {{ c.threshold | num }} threshold, AUC {{ c.overall.auc | num }} {{ c.overall.auc_ci | bounds("") }}.</p>
<table class="correctness">
  <tr><th>version</th><th>drift</th><th>requests</th><th>positives</th><th>accuracy</th><th>interval</th><th>AUC</th><th>interval</th></tr>
  {% for g in c.groups %}
  <tr><th>v{{ g.version }}</th><td><code>{{ g.drift }}</code></td><td class="num">{{ g.n | num }}</td><td class="num">{{ g.positives | num }}</td>
      <td class="num">{{ (g.accuracy * 100) | num }}%</td><td class="num">{{ g.accuracy_ci | bounds("ratio") }}</td>
      <td class="num">{{ g.auc | num }}</td><td class="num">{{ g.auc_ci | bounds("") }}</td></tr>
  {% endfor %}
</table>
{% if c.drops %}
<table class="correctness-drops">
  <tr><th>version</th><th>drift</th><th>AUC drop</th><th>interval</th><th>accuracy drop</th><th>interval</th></tr>
  {% for d in c.drops %}
  <tr class="{{ 'fail' if d.auc_drop_ci[0] > 0 else '' }}"><th>v{{ d.version }}</th><td><code>{{ d.drift }}</code></td>
      <td class="num">{{ d.auc_drop | num }}</td><td class="num">{{ d.auc_drop_ci | bounds("") }}</td>
      <td class="num">{{ (d.accuracy_drop * 100) | num }}%</td><td class="num">{{ d.accuracy_drop_ci | bounds("ratio") }}</td></tr>
  {% endfor %}
</table>
{% endif %}
<p class="muted">AUC: the Mann-Whitney statistic with Hanley and McNeil's standard error; accuracy: Wilson's interval, its drop Newcombe's.
A drop is the undrifted requests of the same version less the drifted ones.</p>
"""

report_section("correctness", ReportSection("Correctness", TEMPLATE))
