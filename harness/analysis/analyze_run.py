"""records + telemetry + AnalysisSpec -> Result: the one entry point of analysis (no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.analysis.errors import error_breakdown
from harness.analysis.estimators import headline_intervals
from harness.analysis.judging import judge_all, window_scalars
from harness.analysis.load import CHECKED_LAG_QUANTILE, load_summary, shard_table
from harness.analysis.metrics import get_metric
from harness.analysis.phases import effective_phases, measured_duration_s, measured_window_s, phase_table
from harness.analysis.samples import RunSamples
from harness.analysis.sections import SectionInput, build_sections
from harness.analysis.slo import SLO, parse_slo
from harness.analysis.spec import AnalysisSpec
from harness.analysis.stats import percentile_table
from harness.analysis.telemetry import telemetry_series, telemetry_summary
from harness.analysis.timeseries import latency_cdf, latency_scatter, per_second
from harness.analysis.windows import Timeline
from harness.clock import NS_PER_S
from harness.contracts import Scalar

VERDICTS = ("pass", "inconclusive", "fail", "invalid")  # in rising order of severity


@dataclass(frozen=True)
class Result:
    summary: dict[str, Any]  # JSON-ready (NaN where undefined; the writer maps it to null)
    series: dict[str, Any]  # numpy arrays and lists for the plots; a section's under its name
    spec: AnalysisSpec
    sections: tuple[str, ...] = ()  # the summary sections this run has, in order

    @property
    def verdict(self) -> str:
        return self.summary["verdict"]


def overall_verdict(load_valid: bool, slo_verdicts: list[str]) -> str:
    """invalid beats fail beats inconclusive beats pass; no SLOs on a valid run pass."""
    if not load_valid:
        return "invalid"
    return max(slo_verdicts, key=VERDICTS.index, default="pass")


def analyze(records: pd.DataFrame, telemetry: pd.DataFrame | None, spec: AnalysisSpec) -> Result:
    scalar_units = {name: scalar.unit for name, scalar in spec.extra_scalars.items()}
    slos = [parse_slo(expr, scalar_units) for expr in spec.slos]
    confidence = per_slo_confidence(spec, slos)
    phases = effective_phases(spec, records)
    samples = RunSamples(records, measured_duration_s(phases, spec.warmup_s), confidence,
                         measured_window_s(phases, spec.warmup_s))
    timeline = Timeline(samples.window_s, spec.faults, spec.recovery.allowance_s)
    phase_rows = phase_table(phases, samples, spec.max_lag_p99_ms / 1e3)
    measured = records[samples.measured]
    judged_lag = judged_lag_quantiles(slos)
    shards = shard_table(spec, samples.values("schedule_lag"), samples.measured, judged_lag)
    load = load_summary(spec, samples.judged("schedule_lag").in_time, phase_rows, len(records), len(measured),
                        judged_lag, shards)
    scalars: dict[str, Scalar] = {**window_scalars(samples, slos, confidence), **spec.extra_scalars}
    summary = {
        "load": load,
        "latency_ms": percentile_table(samples.judged("latency").ordered),
        "latency_ci_ms": {"confidence": spec.confidence,
                          **headline_intervals(samples.judged("latency"), spec.confidence)},
        "service_time_ms": percentile_table(samples.judged("service_time").ordered),
        "errors": error_breakdown(measured),
        **{name: _scalar_section(scalars[name], confidence) for name in SCALAR_SECTIONS},
        "joint_confidence": joint_confidence(spec, slos, confidence),
        "phases": phase_rows,
        "measured_duration_s": samples.duration_s,
        "telemetry": telemetry_summary(telemetry),
        "analysis": spec.to_dict(),
    }
    series = _series(records, telemetry, spec, samples, phases, slos)
    sections = build_sections(SectionInput(records, telemetry, spec, samples, summary, series["end_s"], tuple(slos),
                                           timeline))
    for name, output in sections.items():
        summary[name] = output.section
        series[name] = output.series
        scalars |= output.scalars
    slo_results = judge_all(slos, samples, scalars, confidence, timeline, spec.recovery.judge_during)
    verdict = overall_verdict(load["valid"], [r["verdict"] for r in slo_results if r["judged"]])
    summary = {"verdict": verdict, **summary, "slos": slo_results}
    return Result(summary, series, spec, tuple(sections))


SCALAR_SECTIONS = ("availability", "error_rate", "throughput", "goodput")


def _scalar_section(scalar: Scalar, confidence: float) -> dict[str, Any]:
    ci = [math.nan, math.nan] if scalar.ci is None else list(scalar.ci)
    return {"estimate": scalar.value, "ci": ci, "confidence": confidence, "n": scalar.n,
            "n_effective": scalar.n_effective, "method": scalar.method}


def judged_lag_quantiles(slos: list[SLO]) -> tuple[float, ...]:
    """The percentiles above p99 that SLOs judge of metrics including the generator's lag
    (p99 is always checked)."""
    return tuple(sorted({slo.q for slo in slos if slo.q is not None and slo.q > CHECKED_LAG_QUANTILE
                         and slo.op in ("<", "<=") and (metric := get_metric(slo.metric)) is not None
                         and metric.includes_lag}))


def per_slo_confidence(spec: AnalysisSpec, slos: list[SLO]) -> float:
    """Each bound's confidence: the run's, or Bonferroni-adjusted so the whole verdict holds at it."""
    if not spec.joint_confidence or len(slos) < 2:
        return spec.confidence
    return 1.0 - (1.0 - spec.confidence) / len(slos)


def joint_confidence(spec: AnalysisSpec, slos: list[SLO], confidence: float) -> dict[str, Any]:
    """The overall verdict is the AND of k SLOs: Bonferroni bounds its confidence below."""
    k = len(slos)
    return {"slos": k, "per_slo": confidence, "at_least": max(0.0, 1.0 - k * (1.0 - confidence)) if k else 1.0,
            "adjusted": spec.joint_confidence and k > 1}


def _series(
    records: pd.DataFrame,
    telemetry: pd.DataFrame | None,
    spec: AnalysisSpec,
    samples: RunSamples,
    phases: tuple,
    slos: list[SLO],
) -> dict[str, Any]:
    last_done_s = float(records["done_ns"].max()) / NS_PER_S if len(records) else 0.0
    end_s = max([last_done_s, *(phase.end_s for phase in phases)])
    return {
        "confidence": spec.confidence,
        "warmup_s": spec.warmup_s,
        "end_s": end_s,
        "phases": [
            {"name": p.name, "start_s": p.start_s, "end_s": p.end_s, "target_rate": p.target_rate} for p in phases
        ],
        "events": [{"t_s": t, "label": label} for t, label in spec.events],
        "slo_lines": [
            {"expr": slo.expr, "metric": slo.metric, "stat": slo.stat, "q": slo.q, "threshold": slo.threshold}
            for slo in slos
            if slo.stat is not None and slo.stat not in ("rate", "count") and get_metric(slo.metric).unit == "ms"
        ],
        "scatter": latency_scatter(records, samples.values("latency"), samples.ok, ~samples.measured),
        "per_second": per_second(records, samples.ok, end_s),
        "latency_cdf": latency_cdf(samples.judged("latency"), spec.confidence),
        "telemetry": telemetry_series(telemetry),
    }
