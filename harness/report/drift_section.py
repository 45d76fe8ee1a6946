"""The `drift` report section: each injected step's detection and consequences, false alarms,
and the monitor's scores over the run."""

from __future__ import annotations

from harness.report.drift_plot import drift_scores
from harness.report.sections import ReportSection, report_section

TEMPLATE = r"""
{% set d = section %}
<p>The drift monitor of {{ d.model }} v{{ d.versions | join(", v") }} ({{ d.monitored_columns }} columns scored) against the injected timeline.
Thresholds: {% for method, value in d.thresholds.items() %}<code>{{ method }}</code> ≥ {{ value | num }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
<table class="drift-steps">
  <tr><th>step</th><th>onset</th><th>columns moved</th><th>detected after</th><th>drifted requests served before</th><th>refused</th>
      <th>prediction alarm after</th><th>prediction shift (sd)</th><th>p50 / p99 latency change</th></tr>
  {% for step in d.steps %}
  <tr><th><code>{{ step.tag }}</code></th><td class="num">{{ step.at_s | num }} s{% if step.over_s %} (+{{ step.over_s | num }} s ramp){% endif %}</td>
      <td>{{ step.columns | join(", ") or "shape" }}</td>
      <td class="num">{% for det in step.detections %}v{{ det.version }}: {{ det.delay_s | num }} s (after {{ det.delay_lo_s | num }} s){% if det.alarming_at_onset %} <span class="muted">already alarming</span>{% endif %}{% if not loop.last %}<br>{% endif %}{% else %}{{ "not monitored" if step.columns else "—" }}{% endfor %}</td>
      <td class="num">{% for det in step.detections %}{{ det.served_before | num }}{% if not loop.last %} / {% endif %}{% endfor %}</td>
      <td class="num">{{ step.refusals.refused | num }} of {{ step.refusals.requests | num }}{% for kind, n in step.refusals.by_kind.items() %}<br><span class="muted">{{ kind }} {{ n }}</span>{% endfor %}</td>
      <td class="num">{% for det in step.prediction_alarm %}{{ det.delay_s | num }} s{% if det.alarming_at_onset %} <span class="muted">already alarming</span>{% endif %}{% if not loop.last %} / {% endif %}{% endfor %}</td>
      <td class="num">{% if step.prediction_shift %}{{ step.prediction_shift.effect | num }} [{{ step.prediction_shift.lo | num }}, {{ step.prediction_shift.hi | num }}]{% else %}<span class="muted">n {{ step.compared | join(" / ") }}</span>{% endif %}</td>
      <td class="num">{% for name, c in step.latency.items() %}{{ name }} {{ (c.effect * 100) | num }}% [{{ (c.lo * 100) | num }}, {{ (c.hi * 100) | num }}]{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
  {% endfor %}
</table>
{% set f = d.false_alarms %}
<p>False alarms: {{ f.alarm_samples | num }} of {{ f.samples | num }} samples of the {{ f.columns }} undrifted columns reached a threshold
({{ (f.share * 100) | num }}%, interval {{ f.ci | bounds("ratio") }} at {{ f.n_effective | num }} windows' worth of evidence){% if f.alarmed %}:
{% for name, n in f.alarmed.items() %}<code>{{ name }}</code> {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}.</p>
<p class="muted">Detection is read from the monitor's gauges once a second: the true moment lies between the sample before the alarm and the alarm.
Consequences compare full-strength drifted requests with the undrifted ones before the first onset.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("drift", ReportSection("Drift", TEMPLATE, {"drift_scores": drift_scores}))
