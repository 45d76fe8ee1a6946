"""What analysis needs to know about a run, independent of the scenario model.

The runner builds an `AnalysisSpec`, stores `to_dict()` in summary.json under "analysis",
and `slogate report RUN_DIR` rebuilds it with `from_dict()` to redo the analysis from the
stored records alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.contracts import Scalar


@dataclass(frozen=True)
class PhaseSpec:
    """One workload phase; times are seconds from the run's t0.

    `target_rate` is the phase's mean scheduled rate (requests per second); None for a
    closed-loop phase, which has no rate to hold.
    """

    name: str
    start_s: float
    end_s: float
    target_rate: float | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class AnalysisSpec:
    slos: tuple[str, ...] = ()
    confidence: float = 0.95
    phases: tuple[PhaseSpec, ...] = ()
    warmup_s: float = 0.0
    max_lag_p99_ms: float = 1.0
    rate_tolerance: float = 0.02
    joint_confidence: bool = False  # adjust each bound so the AND of all SLOs holds at `confidence`
    transport: dict[str, int] = field(default_factory=dict)  # the client's own counts (stale connections replaced)
    safety_valve_hit: bool = False
    extra_invalid_reasons: tuple[str, ...] = ()  # known to the runner: Ctrl-C, a fault that failed to inject
    extra_scalars: dict[str, Scalar] = field(default_factory=dict)
    events: tuple[tuple[float, str], ...] = ()  # (t_s, label): fault injections and the like
    facts: dict[str, Any] = field(default_factory=dict)  # experiments' JSON-ready data for their sections

    def __post_init__(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0.5, 1), got {self.confidence}")
        # Accept lists from callers and JSON alike; keep the spec immutable.
        object.__setattr__(self, "slos", tuple(self.slos))
        object.__setattr__(self, "extra_invalid_reasons", tuple(self.extra_invalid_reasons))
        object.__setattr__(self, "phases", tuple(self.phases))
        object.__setattr__(self, "events", tuple((float(t), str(label)) for t, label in self.events))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["slos"] = list(self.slos)
        data["extra_invalid_reasons"] = list(self.extra_invalid_reasons)
        data["phases"] = [asdict(phase) for phase in self.phases]
        data["events"] = [[t, label] for t, label in self.events]
        data["extra_scalars"] = {
            name: {**asdict(scalar), "ci": None if scalar.ci is None else list(scalar.ci)}
            for name, scalar in self.extra_scalars.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSpec:
        fields = dict(data)
        fields["phases"] = tuple(PhaseSpec(**phase) for phase in data.get("phases", ()))
        fields["extra_scalars"] = {
            name: Scalar.from_dict(scalar) for name, scalar in data.get("extra_scalars", {}).items()
        }
        return cls(**fields)

