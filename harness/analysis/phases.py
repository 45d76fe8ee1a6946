"""Phases as analysis sees them: what each one asked for and what it got."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.samples import RunSamples
from harness.analysis.spec import AnalysisSpec, PhaseSpec
from harness.analysis.stats import percentile_table
from harness.clock import NS_PER_S


def effective_phases(spec: AnalysisSpec, records: pd.DataFrame) -> tuple[PhaseSpec, ...]:
    """The spec's phases, or one implicit closed phase spanning the records."""
    if spec.phases:
        return spec.phases
    end_s = float(records["done_ns"].max()) / NS_PER_S if len(records) else 0.0
    return (PhaseSpec("run", 0.0, max(end_s, 0.0), None),)


def measured_window_s(phases: tuple[PhaseSpec, ...], warmup_s: float) -> tuple[float, float]:
    """From the end of warm-up to the end of the last phase, in seconds from t0."""
    start = max(min(phase.start_s for phase in phases), warmup_s)
    return start, max(start, max(phase.end_s for phase in phases))


def measured_duration_s(phases: tuple[PhaseSpec, ...], warmup_s: float) -> float:
    """Seconds of schedule after warm-up: the denominator of every rate SLOs judge."""
    return float(sum(max(0.0, phase.end_s - max(phase.start_s, warmup_s)) for phase in phases))


def phase_table(phases: tuple[PhaseSpec, ...], samples: RunSamples, grace_s: float) -> list[dict]:
    """Per phase: requests (warm-up included: the generator's own rate), the rate *sent*
    inside the phase's window (plus `grace_s`, the lag allowed), errors, and the latency of
    its requests after warm-up (failures counted as +inf)."""
    records = samples.records
    count = len(phases)
    phase_index = records["phase"].to_numpy(np.int64)
    index = np.where((phase_index >= 0) & (phase_index < count), phase_index, count)
    sent_s = records["sent_ns"].to_numpy(np.int64) / NS_PER_S
    latency = np.where(samples.ok, samples.values("latency"), np.inf)
    rows = []
    for i, phase in enumerate(phases):
        mine = index == i
        in_window = int((mine & (sent_s >= phase.start_s) & (sent_s <= phase.end_s + grace_s)).sum())
        duration = phase.duration_s
        rows.append(
            {
                "name": phase.name,
                "start_s": phase.start_s,
                "end_s": phase.end_s,
                "target_rate": phase.target_rate,
                "requests": int(mine.sum()),
                "sent_in_window": in_window,
                "achieved_rate": in_window / duration if duration > 0 else float("nan"),
                "errors": int((mine & ~samples.ok).sum()),
                "latency_ms": percentile_table(np.sort(latency[mine & samples.measured])),
            }
        )
    return rows
