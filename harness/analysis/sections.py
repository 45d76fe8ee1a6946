"""Summary sections: named parts of summary.json that only some runs have (`llm`, `chaos`, ...).

A section is a pure function of what analysis already has (records, telemetry, the spec
with the experiments' facts, the judged samples, the SLOs, the timeline of faults and the
core summary), registered with `@summary_section(name, applies=...)`. It returns the
section's JSON-ready dict, the arrays its report section draws, and run-level values that
bare-name SLOs may judge (`recovery_time`, `error_budget_consumed`): sections are built
before the verdicts. Because sections read only stored data, `slogate report` rebuilds
them from a run directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.analysis.samples import RunSamples
from harness.analysis.slo import SLO
from harness.analysis.spec import AnalysisSpec
from harness.analysis.windows import Timeline
from harness.contracts import Scalar
from slogate_common.registry import Registry


@dataclass(frozen=True)
class SectionInput:
    records: pd.DataFrame
    telemetry: pd.DataFrame | None
    spec: AnalysisSpec
    samples: RunSamples
    summary: dict[str, Any]  # the core summary: load, latency, errors, throughput, goodput (no verdicts yet)
    end_s: float  # the run's last second on the timeline
    slos: tuple[SLO, ...] = ()
    timeline: Timeline = Timeline((0.0, 0.0), (), 0.0)


@dataclass(frozen=True)
class SectionOutput:
    section: dict[str, Any]  # JSON-ready: summary.json's part
    series: dict[str, Any]  # what its report section draws
    scalars: dict[str, Scalar] = field(default_factory=dict)  # bare-name SLO values


@dataclass(frozen=True)
class SummarySection:
    applies: Callable[[SectionInput], bool]
    build: Callable[[SectionInput], SectionOutput]


summary_sections: Registry[SummarySection] = Registry("summary section", builtins="harness.analysis.catalog")


def summary_section(name: str, *, applies: Callable[[SectionInput], bool]):
    """Register `build(inp) -> SectionOutput` as summary.json's `name`, where `applies(inp)`."""

    def register(build: Callable[[SectionInput], SectionOutput]):
        summary_sections.add(name, SummarySection(applies, build))
        return build

    return register


def build_sections(inp: SectionInput) -> dict[str, SectionOutput]:
    """Every registered section that applies to this run, in registration order."""
    return {entry.name: entry.value.build(inp) for entry in summary_sections.entries() if entry.value.applies(inp)}
