"""The report.html template (kept in a module so it ships inside the wheel)."""

STYLE = r"""<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1180px; color: #222; }
  h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
  table { border-collapse: collapse; margin: .5rem 0; font-size: .92rem; }
  th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
  th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: .15rem .7rem; border-radius: .3rem; color: #fff; font-weight: 600; }
  .pass { background: #2e7d32; } .fail { background: #c62828; } .inconclusive { background: #ef8f00; } .invalid { background: #6a1b9a; }
  td.pass, td.fail, td.inconclusive, td.invalid { color: #fff; font-weight: 600; }
  tr.reported { opacity: 0.65; }
  .box { border: 2px solid; border-radius: .4rem; padding: .6rem 1rem; margin: .5rem 0; }
  .box.valid { border-color: #2e7d32; background: #f1f8f1; } .box.broken { border-color: #6a1b9a; background: #f7f0fa; }
  .muted { color: #777; font-size: .85rem; } img { max-width: 100%; display: block; margin: .6rem 0 1.2rem; }
  pre { background: #f7f7f7; padding: .6rem; overflow-x: auto; font-size: .8rem; }
</style>
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>slogate · {{ s.scenario or "run" }} · {{ s.verdict | upper }}</title>
""" + STYLE + r"""</head>
<body>
<h1>{{ s.scenario or "slogate run" }} <span class="badge {{ s.verdict }}" id="verdict">{{ s.verdict | upper }}</span></h1>
{% if s.description %}<p>{{ s.description }}</p>{% endif %}

<table id="run-metadata">
  <tr><th>started</th><td>{{ s.started_at or "—" }}</td><th>duration</th><td class="num">{{ s.duration_s | num }} s</td></tr>
  <tr><th>target</th><td colspan="3">{{ s.target | target_line if s.target else "—" }}</td></tr>
  <tr><th>payloads</th><td colspan="3" id="payload-source">{{ s.payload or "—" }}</td></tr>
  <tr><th>schema</th><td>{{ s.schema }}</td><th>measured window</th><td class="num">{{ s.measured_duration_s | num }} s after warm-up</td></tr>
</table>

<h2>SLO verdicts</h2>
{% if s.slos %}
{% set windowed = s.slos | selectattr("window") | rejectattr("window", "equalto", "run") | list %}
<table id="verdicts">
  <tr>{% if windowed %}<th>window</th>{% endif %}<th>SLO</th><th>verdict</th><th>estimate</th><th>bounds</th><th>threshold</th><th>n</th><th>why</th></tr>
  {% for slo in s.slos %}
  <tr{% if slo.judged == false %} class="reported"{% endif %}>{% if windowed %}<td>{{ slo.window }}{% if slo.judged == false %} <span class="muted">(reported, not judged)</span>{% endif %}<br><span class="muted">{{ slo.window_s | num }} s</span></td>{% endif %}<td><code>{{ slo.expr }}</code></td><td class="{{ slo.verdict }}">{{ slo.verdict }}</td>
      <td class="num">{{ slo.estimate | unit(slo.unit) }}</td><td class="num">{{ slo.ci | bounds(slo.unit) }}</td>
      <td class="num">{{ slo.threshold | unit(slo.unit) }}</td><td class="num">{{ slo.n | num }}</td><td>{{ slo.reason }}</td></tr>
  {% endfor %}
</table>
<p class="muted">Bounds are one-sided at {{ (s.slos[0].confidence * 100) | num }}% confidence each: a verdict passes only when
the unfavourable bound meets the threshold and fails only when the favourable one misses it.</p>
{% else %}<p>No SLOs were declared.</p>{% endif %}

<h2>Load validity</h2>
{% set load = s.load %}
<div class="box {{ 'valid' if load.valid else 'broken' }}" id="load-validity">
  {% if load.valid %}<strong>Valid:</strong> the generator kept its schedule and rate.
  {% else %}<strong>INVALID:</strong> the load offered was not the load asked for, so no verdict stands.
  <ul>{% for reason in load.invalid_reasons %}<li>{{ reason }}</li>{% endfor %}</ul>{% endif %}
</div>
<table>
  <tr><th>requests</th><td class="num">{{ load.requests | num }}</td><th>after warm-up</th><td class="num">{{ load.measured_requests | num }}</td></tr>
  <tr><th>target rate</th><td class="num">{{ load.target_rate | unit("req/s") }}</td><th>achieved rate</th><td class="num">{{ load.achieved_rate | unit("req/s") }}</td></tr>
  <tr><th>schedule lag p50 / p99 / max</th><td class="num" colspan="3">{{ load.schedule_lag_ms.p50 | unit("ms") }} / {{ load.schedule_lag_ms.p99 | unit("ms") }} / {{ load.schedule_lag_ms.max | unit("ms") }}
      (limit p99 ≤ {{ load.max_lag_p99_ms | unit("ms") }}, rate within ±{{ (load.rate_tolerance * 100) | num }}%)</td></tr>
</table>
<table id="phases">
  <tr><th>phase</th><th>from – to (s)</th><th>target</th><th>achieved</th><th>requests</th><th>errors</th><th>p50</th><th>p99</th></tr>
  {% for phase in s.phases %}
  <tr><td>{{ phase.name }}</td><td class="num">{{ phase.start_s | num }} – {{ phase.end_s | num }}</td>
      <td class="num">{{ phase.target_rate | unit("req/s") if phase.target_rate else "closed loop" }}</td><td class="num">{{ phase.achieved_rate | unit("req/s") }}</td>
      <td class="num">{{ phase.requests | num }}</td><td class="num">{{ phase.errors | num }}</td>
      <td class="num">{{ phase.latency_ms.p50 | unit("ms") }}</td><td class="num">{{ phase.latency_ms.p99 | unit("ms") }}</td></tr>
  {% endfor %}
</table>

<h2>Latency</h2>
<table id="latency">
  <tr><th></th>{% for key in percentile_keys %}<th>{{ "failed (∞)" if key == "censored" else key }}</th>{% endfor %}</tr>
  {% for label, table in latency_tables %}
  <tr><th>{{ label }}</th>{% for key in percentile_keys %}<td class="num">{{ table[key] | num if key in count_keys else table[key] | unit("ms") }}</td>{% endfor %}</tr>
  {% endfor %}
</table>
<p class="muted">Every request after warm-up; a failed one (timeout, reset, error status, invalid answer) counts as ∞,
slower than any threshold, so a server that fails fast cannot look fast. Service time runs from the actual send.</p>
<p class="{{ 'muted' if not load.closed_loop_phases else 'box broken' }}" id="latency-origin">{% if load.closed_loop_phases %}<strong>Closed loop: queueing is hidden.</strong> {% endif %}Latency counts from {{ load.latency_counts_from }}.</p>

<h2>Errors, availability and throughput</h2>
<table id="errors">
  <tr><th>errors after warm-up</th><td class="num">{{ s.errors.total | num }}</td></tr>
  {% for code, count in s.errors.by_status.items() %}<tr><td>status {{ code }}{% if code == "0" %} (transport){% endif %}</td><td class="num">{{ count | num }}</td></tr>{% endfor %}
  {% for kind, count in s.errors.by_kind.items() %}<tr><td>{{ kind }}</td><td class="num">{{ count | num }}</td></tr>{% endfor %}
</table>
<table>
  <tr><th></th><th>estimate</th><th>bounds</th><th>n</th><th>method</th></tr>
  {% for name, unit_name in rate_rows %}{% set row = s[name] %}
  <tr><th>{{ name }}</th><td class="num">{{ row.estimate | unit(unit_name) }}</td><td class="num">{{ row.ci | bounds(unit_name) }}</td>
      <td class="num">{{ row.n | num }}</td><td>{{ row.method }}</td></tr>
  {% endfor %}
</table>

{% for section in sections %}
<h2 id="{{ section.name }}">{{ section.title }}</h2>
{{ section.html }}
{% endfor %}

<h2>Plots</h2>
{% for name, uri in images %}<img alt="{{ name }}" src="{{ uri }}">{% endfor %}

{% if s.telemetry %}
<h2>Server telemetry</h2>
<table id="telemetry">
  <tr><th>series</th><th>min</th><th>mean</th><th>max</th><th>last</th><th>samples</th></tr>
  {% for name, row in s.telemetry.items() %}
  <tr><td>{{ name }}</td><td class="num">{{ row.min | num }}</td><td class="num">{{ row.mean | num }}</td><td class="num">{{ row.max | num }}</td>
      <td class="num">{{ row.last | num }}</td><td class="num">{{ row.n | num }}</td></tr>
  {% endfor %}
</table>
{% endif %}

<p class="muted">Generated by slogate from summary.json and requests.parquet; <code>slogate report RUN_DIR</code> rebuilds it.</p>
</body>
</html>
"""
