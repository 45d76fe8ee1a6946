"""The `cost` report section: the run priced at its achieved rate, and what a request used."""

from __future__ import annotations

from harness.report.sections import ReportSection, report_section

COST_TEMPLATE = r"""
{% set c = section %}
<table id="cost">
  <tr><th>instance</th><td>{{ c.instance }} × {{ c.replicas | num }} <span class="muted">({{ c.provider }} {{ c.region }},
      {{ c.vcpus | num }} vCPU{% if c.gpus %}, {{ c.gpus | num }} × {{ c.gpu_model }}{% endif %})</span></td>
      <th>price</th><td class="num">${{ c.price_per_hour | num }}/h each · ${{ c.hourly | num }}/h in all</td></tr>
  <tr><th>$ per 1k requests</th><td class="num">{{ c.cost_per_1k.estimate | num }} {{ c.cost_per_1k.ci | bounds("") }}</td>
      <th>at</th><td class="num">{{ c.throughput_rps.estimate | unit("req/s") }} ({{ c.basis }})</td></tr>
  {% if c.cost_per_1m_output_tokens %}
  <tr><th>$ per 1M output tokens</th><td class="num">{{ c.cost_per_1m_output_tokens.estimate | num }} {{ c.cost_per_1m_output_tokens.ci | bounds("") }}</td>
      <th>$ per 1M input tokens</th><td class="num">{{ c.cost_per_1m_input_tokens.estimate | num }} {{ c.cost_per_1m_input_tokens.ci | bounds("") }}</td></tr>
  {% endif %}
  <tr><th>server CPU per request</th><td class="num">{{ c.resources.cpu_seconds_per_request | unit("s") }}</td>
      <th>share of the instances' cores busy</th><td class="num">{{ c.resources.cpu_share_of_instances | unit("ratio") }}</td></tr>
  <tr><th>server peak RSS</th><td class="num">{{ ((c.resources.rss_peak_bytes / 1048576) if c.resources.rss_peak_bytes else none) | unit("MiB") }}</td>
      <th>GPU energy per request</th><td class="num">{{ c.resources.gpu_energy_j_per_request | unit("J") }}</td></tr>
</table>
<p class="muted">Price: {{ c.source }} ({{ c.as_of }}), from {{ c.catalog }}. A run below capacity pays for idle time: this is the
cost of this deployment at this load. <code>slogate capacity</code> prices the highest rate that meets the SLOs. Bounds are the
throughput's, inverted. Per 1M input and per 1M output tokens are two views of one bill, not two parts of it.</p>
"""

report_section("cost", ReportSection("Cost per inference", COST_TEMPLATE))
