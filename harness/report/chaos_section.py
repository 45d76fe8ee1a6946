"""The `chaos` and `budget` report sections: each fault's recovery figures, the error budget
each SLO spent, when its burn-rate alerts fired, and their timelines."""

from __future__ import annotations

from harness.report.plots import burn_rates, chaos_timeline
from harness.report.sections import ReportSection, report_section

CHAOS_TEMPLATE = r"""
{% set chaos = section %}
<table id="chaos-faults">
  <tr><th>fault</th><th>start</th><th>end</th><th>time to detect</th><th>restart time</th><th>recovery time</th>
      <th>failed during</th><th>failed after</th><th>never answered</th><th>lowest served share</th></tr>
  {% for f in chaos.faults %}
  <tr><th>{{ f.name }}<br><span class="muted">{{ f.label }}</span></th><td class="num">{{ f.start_s | unit("s") }}</td>
      <td class="num">{{ f.end_s | unit("s") }}</td><td class="num">{{ f.time_to_detect_ms | unit("ms") }}</td>
      <td class="num">{{ f.restart_time_ms | unit("ms") }}</td><td class="num">{{ f.recovery_time_ms | unit("ms") }}</td>
      <td class="num">{{ f.failed_during.total | num }}</td><td class="num">{{ f.failed_after.total | num }}</td>
      <td class="num">{{ f.never_answered | num }}</td><td class="num">{{ f.throughput_dip | unit("ratio") }}</td></tr>
  {% endfor %}
</table>
<p class="muted">Healthy means every rolling {{ chaos.window_s | num }} s window meets {% for h in chaos.healthy %}<code>{{ h }}</code>{% if not loop.last %}, {% endif %}{% endfor %}
(failed requests count as ∞). Detection: the first window after a fault's start that misses it. Recovery: from the fault's end
(a kill: the server ready again) to the first window that stays healthy for {{ chaos.hold_s | num }} s; ∞ when the run never shows it.
Unscoped SLOs are judged before and after the faults, outside a {{ chaos.allowance_s | num }} s recovery allowance.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

BUDGET_TEMPLATE = r"""
<table id="budget">
  <tr><th>SLO</th><th>budget (bad share allowed)</th><th>consumed</th><th>bounds</th><th>max burn</th><th>alerts fired (burn ×: when)</th></tr>
  {% for o in section.objectives %}
  <tr><td><code>{{ o.expr }}</code></td><td class="num">{{ o.budget | unit("ratio") }}</td><td class="num">{{ o.consumed | unit("ratio") }}</td>
      <td class="num">{{ o.consumed_ci | bounds("ratio") }}</td><td class="num">{{ o.max_burn_rate | num }}×</td>
      <td>{% for a in o.alerts %}{{ a.burn | num }}× ({{ a.long_s | num }} s / {{ a.short_s | num }} s):
          {% for e in a.episodes %}{{ e.fired_s | num }}–{{ e.reset_s | num if e.reset_s is not none else "end" }} s{% if not loop.last %}, {% endif %}{% else %}never{% endfor %}<br>{% endfor %}</td></tr>
  {% endfor %}
</table>
<p class="muted">The run is the SLO period: consumed = bad share / budget (100% spends it all), bounded like availability.
Alerts follow the SRE Workbook's multiwindow burn rates, scaled to the run; one fires while both its windows burn faster than its threshold.</p>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}
"""

report_section("chaos", ReportSection("Chaos: faults and recovery", CHAOS_TEMPLATE, {"chaos_timeline": chaos_timeline}))
report_section("budget", ReportSection("Error budget and burn rate", BUDGET_TEMPLATE, {"burn_rates": burn_rates}))
