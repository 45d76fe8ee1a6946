"""summary["llm"] and the arrays the LLM plots draw (pure; no I/O).

Judged rows only (successful, after warm-up), like the latency tables. Metric definitions
are llm.py's (vLLM's definitions); goodput and requests/s are the run's own goodput and throughput
sections, so the LLM table can never disagree with what `goodput >= N/s` SLOs judge.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.estimators import quantile_estimates
from harness.analysis.llm import output_token_counts, output_tokens_series
from harness.analysis.samples import RunSamples, Sample
from harness.analysis.sections import SectionInput, SectionOutput, summary_section
from harness.analysis.stats import bounds_level, percentile_table, rate_ci

METRICS = ("ttft", "ttft_sent", "tpot", "itl", "e2e")
CI_QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
PLOTTED = ("ttft", "itl")
MAX_PLOT_POINTS = 4_000  # per distribution: enough for a smooth CDF, bounded for 1M-request runs
TOKEN_RATE_METHOD = "scaled-poisson (requests as events, tokens as marks)"


def has_llm_data(records: pd.DataFrame) -> bool:
    """Any token count or streamed chunk: cheap enough to ask of every run."""
    if (records["output_tokens"].to_numpy() >= 0).any():
        return True
    return bool(records["chunk_ns"].notna().any())


def llm_summary(
    samples: RunSamples, throughput: dict[str, Any], goodput: dict[str, Any], confidence: float
) -> dict[str, Any]:
    judged = samples.records[samples.judged_rows]
    output = output_token_counts(judged)
    prompt = judged["prompt_tokens"].to_numpy(np.int64)
    return {
        **{f"{name}_ms": metric_table(samples.judged(name), confidence) for name in METRICS},
        "output_tokens_per_s": token_rate(output, samples.duration_s, confidence),
        "requests_per_s": throughput,
        "goodput_req_s": goodput,
        "prompt_tokens": _token_totals(prompt[prompt >= 0]),
        "output_tokens": _token_totals(output),
    }


def metric_table(sample: Sample, confidence: float) -> dict[str, Any]:
    """The headline percentiles, with the one-sided bounds verdicts use (failures at +inf)."""
    _, lo, hi, _ = quantile_estimates(sample, np.array(list(CI_QUANTILES.values())), bounds_level(confidence))
    bounds = {name: [float(lo[i]), float(hi[i])] for i, name in enumerate(CI_QUANTILES)}
    return {**percentile_table(sample.ordered), "ci": bounds, "confidence": confidence, "requests": sample.units}


def token_rate(tokens: np.ndarray, duration_s: float, confidence: float) -> dict[str, Any]:
    """Output tokens/s with an interval for requests arriving as Poisson events carrying
    varying token counts. Tokens are not independent events (one request brings hundreds),
    so a plain Poisson interval on the token count would be far too narrow. The scaled
    Poisson treats the count as (sum n²/sum n) × Poisson(effective events), which is the
    exact Poisson interval when every request carries one token."""
    total = float(tokens.sum())
    squares = float(np.square(tokens, dtype=np.float64).sum())
    scale = squares / total if total > 0 else 1.0
    effective = rate_ci(total / scale, duration_s, bounds_level(confidence))  # a fractional event count is fine for chi²
    return {
        "estimate": total / duration_s if duration_s > 0 else math.nan,
        "ci": [effective.lo * scale, effective.hi * scale],
        "confidence": confidence,
        "n": int(tokens.size),
        "method": TOKEN_RATE_METHOD,
    }


def _token_totals(counts: np.ndarray) -> dict[str, Any]:
    return {"total": int(counts.sum()), "mean": float(counts.mean()) if counts.size else math.nan, "n": int(counts.size)}


def llm_series(records: pd.DataFrame, samples: RunSamples, llm: dict[str, Any], end_s: float) -> dict[str, Any]:
    """Thinned sorted TTFT and ITL with their p50/p99 markers, and output tokens/s per second."""
    distributions = {
        name: {**thin_sorted(samples.judged(name).answered()), "p50": llm[f"{name}_ms"]["p50"], "p99": llm[f"{name}_ms"]["p99"]}
        for name in PLOTTED
    }
    return {**distributions, "tokens_per_s": tokens_per_second(records, end_s)}


def thin_sorted(ordered: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> dict[str, Any]:
    """Evenly spaced order statistics (min and max kept) and their cumulative fractions:
    the same CDF at a bounded size. Deterministic, so a rebuilt report draws the same."""
    n = ordered.size
    ranks = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64)) if n > max_points else np.arange(n)
    return {"values_ms": ordered[ranks], "q": (ranks + 0.5) / max(n, 1), "n": int(n)}


def tokens_per_second(records: pd.DataFrame, end_s: float) -> dict[str, np.ndarray]:
    """Output tokens/s of successful requests in every one-second bin (warm-up included,
    drawn shaded like the latency timeline); bins without chunks are zero."""
    bins = max(1, math.ceil(end_s))
    per_bin = output_tokens_series(records, bin_s=1.0)
    rate = np.zeros(bins)
    seconds = np.clip(per_bin.index.to_numpy(np.int64), 0, bins - 1)
    np.add.at(rate, seconds, per_bin.to_numpy(np.float64))
    return {"t_s": np.arange(bins, dtype=np.float64), "tokens_per_s": rate}


def _applies(inp: SectionInput) -> bool:
    return has_llm_data(inp.records)


@summary_section("llm", applies=_applies)
def llm_section(inp: SectionInput) -> SectionOutput:
    summary = llm_summary(inp.samples, inp.summary["throughput"], inp.summary["goodput"], inp.spec.confidence)
    return SectionOutput(summary, llm_series(inp.records, inp.samples, summary, inp.end_s))
