"""Cost per inference: an instance's hourly price spread over the requests (and tokens) it serves.

Pure functions, and the `cost` summary section of a run whose scenario has a `cost:` block.
A run is priced at its own achieved throughput: a run below capacity pays for idle time,
which is the truth of that deployment. `slogate capacity` prices the highest rate that
meets the SLOs instead (harness/analysis/capacity.py). Intervals come from the throughput's
(or token rate's): cost is a constant over the rate, so its bounds are the rate's, inverted.

Resource use comes from the server's telemetry: CPU-seconds per request (the server process
and its children, from their cumulative CPU time), peak RSS, and on GPUs the energy per
request and per output token (NVML power integrated over the measured window).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.llm import output_token_counts
from harness.analysis.llm_summary import has_llm_data, token_rate
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.contracts import Scalar

SECONDS_PER_HOUR = 3600.0
GPU_POWER_SUFFIX = "_power_w"


def cost_per_1k(hourly: float, rate_per_s: float) -> float:
    """USD per 1,000 requests served at `rate_per_s` by instances costing `hourly` USD/h in all."""
    return hourly / SECONDS_PER_HOUR / rate_per_s * 1000.0 if rate_per_s > 0 else math.inf


def cost_per_million(hourly: float, tokens_per_s: float) -> float:
    return hourly / SECONDS_PER_HOUR / tokens_per_s * 1e6 if tokens_per_s > 0 else math.inf


def inverted(cost_at: Any, hourly: float, rate: dict[str, Any]) -> dict[str, Any]:
    """A cost and its bounds from a rate's estimate and bounds (a higher rate is a lower cost)."""
    lo, hi = rate["ci"]
    return {"estimate": cost_at(hourly, rate["estimate"]), "ci": [cost_at(hourly, hi), cost_at(hourly, lo)]}


def window_delta(telemetry: pd.DataFrame | None, column: str, window: tuple[float, float]) -> float | None:
    """How much a cumulative telemetry column grew over `window` (seconds from t0)."""
    if telemetry is None or column not in telemetry or telemetry[column].notna().sum() < 2:
        return None
    known = telemetry[telemetry[column].notna()]
    t = known["t_ns"].to_numpy(np.float64) / 1e9
    values = known[column].to_numpy(np.float64)
    start, end = np.interp(window, t, values)
    return float(end - start)


def gpu_energy_j(telemetry: pd.DataFrame | None, window: tuple[float, float]) -> float | None:
    """Joules drawn by every GPU over `window`: NVML power, integrated by the trapezoid rule."""
    if telemetry is None:
        return None
    columns = [c for c in telemetry.columns if c.startswith("gpu") and c.endswith(GPU_POWER_SUFFIX)]
    if not columns:
        return None
    t = telemetry["t_ns"].to_numpy(np.float64) / 1e9
    inside = (t >= window[0]) & (t <= window[1])
    if inside.sum() < 2:
        return None
    power = telemetry.loc[inside, columns].fillna(0.0).sum(axis=1).to_numpy(np.float64)
    return float(np.trapezoid(power, t[inside]))


def resource_use(inp: SectionInput, vcpus_in_all: int) -> dict[str, Any]:
    """What one request costs the server: CPU-seconds, the share of the instances' cores that
    the achieved rate keeps busy, peak memory, and GPU energy."""
    window = inp.samples.window_s  # the measured seconds from t0: warm-up left out
    requests = int(inp.samples.measured.sum())
    cpu_s = window_delta(inp.telemetry, "cpu_seconds", window)
    energy = gpu_energy_j(inp.telemetry, window)
    tokens = int(output_token_counts(inp.records[inp.samples.judged_rows]).sum()) if has_llm_data(inp.records) else 0
    rss = inp.telemetry["rss_bytes"].max() if inp.telemetry is not None and "rss_bytes" in inp.telemetry else None
    return {
        "cpu_seconds_per_request": _per(cpu_s, requests),
        "cpu_share_of_instances": _per(cpu_s, inp.samples.duration_s * vcpus_in_all),
        "rss_peak_bytes": None if rss is None or pd.isna(rss) else float(rss),
        "gpu_energy_j_per_request": _per(energy, requests),
        "gpu_energy_j_per_output_token": _per(energy, tokens),
        "requests": requests,
    }


def _per(total: float | None, count: float) -> float | None:
    return None if total is None or count <= 0 else total / count


def _applies(inp: SectionInput) -> bool:
    return "cost" in inp.spec.facts


@summary_section("cost", applies=_applies)
def cost_section(inp: SectionInput) -> SectionOutput:
    facts = inp.spec.facts["cost"]
    hourly = facts["price_per_hour"] * facts["replicas"]
    throughput = inp.summary["throughput"]
    section: dict[str, Any] = {
        **facts,
        "hourly": hourly,
        "basis": "the run's achieved throughput",
        "throughput_rps": {"estimate": throughput["estimate"], "ci": throughput["ci"]},
        "cost_per_1k": inverted(cost_per_1k, hourly, throughput),
        "resources": resource_use(inp, facts["vcpus"] * facts["replicas"]),
    }
    scalars = {"cost_per_1k": _usd(section["cost_per_1k"], throughput, "throughput, inverted")}
    if has_llm_data(inp.records):
        section |= _token_costs(inp, hourly)
        scalars["cost_per_1m_tokens"] = _usd(section["cost_per_1m_output_tokens"], section["output_tokens_per_s"],
                                             "output tokens/s, inverted")
        scalars["cost_per_1m_input_tokens"] = _usd(section["cost_per_1m_input_tokens"],
                                                   section["input_tokens_per_s"], "input tokens/s, inverted")
    return SectionOutput(section, {}, scalars)


def _token_costs(inp: SectionInput, hourly: float) -> dict[str, Any]:
    """The instances' whole cost over each kind of token: per 1M input and per 1M output
    tokens are two views of one bill, not two parts of it."""
    judged = inp.records[inp.samples.judged_rows]
    prompt = judged["prompt_tokens"].to_numpy(np.int64)
    rates = {"input": token_rate(prompt[prompt >= 0], inp.samples.duration_s, inp.spec.confidence),
             "output": token_rate(output_token_counts(judged), inp.samples.duration_s, inp.spec.confidence)}
    out: dict[str, Any] = {}
    for kind, rate in rates.items():
        out[f"{kind}_tokens_per_s"] = {"estimate": rate["estimate"], "ci": rate["ci"], "n": rate["n"]}
        out[f"cost_per_1m_{kind}_tokens"] = inverted(cost_per_million, hourly, rate)
    return out


def _usd(cost: dict[str, Any], rate: dict[str, Any], how: str) -> Scalar:
    return Scalar(cost["estimate"], "USD", tuple(cost["ci"]), rate.get("n"), None, f"instance price / {how}")
