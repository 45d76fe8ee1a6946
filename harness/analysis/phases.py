"""Phases as analysis sees them: what each one asked for and what it got."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.clock import NS_PER_S
from harness.analysis.spec import AnalysisSpec, PhaseSpec
from harness.analysis.stats import percentile_table


def effective_phases(spec: AnalysisSpec, records: pd.DataFrame) -> tuple[PhaseSpec, ...]:
    """The spec's phases, or one implicit closed phase spanning the records."""
    if spec.phases:
        return spec.phases
    end_s = float(records["done_ns"].max()) / NS_PER_S if len(records) else 0.0
    return (PhaseSpec("run", 0.0, max(end_s, 0.0), None),)


def measured_duration_s(phases: tuple[PhaseSpec, ...], warmup_s: float) -> float:
    """Seconds of schedule after warm-up: the denominator of every rate SLOs judge."""
    return float(sum(max(0.0, phase.end_s - max(phase.start_s, warmup_s)) for phase in phases))


def phase_table(
    phases: tuple[PhaseSpec, ...], phase_index: np.ndarray, ok: np.ndarray, latency_ms: np.ndarray, judged: np.ndarray
) -> list[dict]:
    """Per phase: requests sent (warm-up included: the generator's own rate), achieved
    rate, errors, and the latency of the requests SLOs judge."""
    count = len(phases)
    index = np.where((phase_index >= 0) & (phase_index < count), phase_index, count)
    sent = np.bincount(index, minlength=count + 1)
    errors = np.bincount(index[~ok], minlength=count + 1)
    rows = []
    for i, phase in enumerate(phases):
        duration = phase.duration_s
        achieved = sent[i] / duration if duration > 0 else float("nan")
        latency = np.sort(latency_ms[(index == i) & judged])
        rows.append(
            {
                "name": phase.name,
                "start_s": phase.start_s,
                "end_s": phase.end_s,
                "target_rate": phase.target_rate,
                "requests": int(sent[i]),
                "achieved_rate": float(achieved),
                "errors": int(errors[i]),
                "latency_ms": percentile_table(latency[np.isfinite(latency)]),
            }
        )
    return rows
