"""What analysis needs to know about a run, independent of the scenario model.

The runner builds an `AnalysisSpec`, stores `to_dict()` in summary.json under "analysis",
and `slogate report RUN_DIR` rebuilds it with `from_dict()` to redo the analysis from the
stored records alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.contracts import FaultSpan, Scalar


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
class RecoverySpec:
    """How a fault's effect and recovery are read off the run's timeline."""

    window_s: float = 1.0  # the rolling window a breach or a recovery is judged in
    hold_s: float = 5.0  # healthy for this long, without a relapse, to count as recovered
    allowance_s: float = 5.0  # after a fault, time it may take before the SLOs hold again
    judge_during: bool = False  # judge unscoped SLOs during faults too, not only report them
    healthy: tuple[str, ...] = ()  # SLOs a rolling window must meet; empty: the scenario's own


@dataclass(frozen=True)
class BurnWindow:
    """A multiwindow burn-rate alert: it fires while both windows burn faster than `burn`."""

    burn: float
    long_s: float
    short_s: float
    severity: str | None = None  # page | ticket, for the SRE Workbook's pairs (burn_windows.py)


@dataclass(frozen=True)
class ShardLoad:
    """One sending process of a sharded run: its records lie together in the record log."""

    shard: int
    records: int  # its rows, in the order the shards joined the log
    sent: int
    done: int
    clock_offset_ms: float = 0.0  # the runner's clock minus its own (a locust worker elsewhere)
    clock_uncertainty_ms: float = 0.0  # its intended times are right to within ± this; 0: the runner's clock


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
    shards: tuple[ShardLoad, ...] = ()  # a sharded run's senders; empty: one process sent everything
    extra_invalid_reasons: tuple[str, ...] = ()  # known to the runner: Ctrl-C, a fault that failed to inject
    extra_scalars: dict[str, Scalar] = field(default_factory=dict)
    events: tuple[tuple[float, str], ...] = ()  # (t_s, label): fault injections and the like
    facts: dict[str, Any] = field(default_factory=dict)  # experiments' JSON-ready data for their sections
    faults: tuple[FaultSpan, ...] = ()  # as they happened: SLO windows and recovery figures read them
    recovery: RecoverySpec = RecoverySpec()
    burn_windows: tuple[BurnWindow, ...] = ()  # empty: three SRE Workbook pairs, scaled to the run

    def __post_init__(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"confidence must lie in (0.5, 1), got {self.confidence}")
        # Accept lists from callers and JSON alike; keep the spec immutable.
        object.__setattr__(self, "slos", tuple(self.slos))
        object.__setattr__(self, "extra_invalid_reasons", tuple(self.extra_invalid_reasons))
        object.__setattr__(self, "phases", tuple(self.phases))
        object.__setattr__(self, "shards", tuple(self.shards))
        object.__setattr__(self, "events", tuple((float(t), str(label)) for t, label in self.events))
        object.__setattr__(self, "faults", tuple(self.faults))
        object.__setattr__(self, "burn_windows", tuple(self.burn_windows))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["slos"] = list(self.slos)
        data["extra_invalid_reasons"] = list(self.extra_invalid_reasons)
        data["phases"] = [asdict(phase) for phase in self.phases]
        data["shards"] = [asdict(shard) for shard in self.shards]
        data["events"] = [[t, label] for t, label in self.events]
        data["faults"] = [fault.to_dict() for fault in self.faults]
        data["recovery"] = {**asdict(self.recovery), "healthy": list(self.recovery.healthy)}
        data["burn_windows"] = [asdict(window) for window in self.burn_windows]
        data["extra_scalars"] = {name: scalar.to_dict() for name, scalar in self.extra_scalars.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisSpec:
        fields = dict(data)
        fields["phases"] = tuple(PhaseSpec(**phase) for phase in data.get("phases", ()))
        fields["shards"] = tuple(ShardLoad(**shard) for shard in data.get("shards", ()))
        fields["faults"] = tuple(FaultSpan.from_dict(fault) for fault in data.get("faults", ()))
        recovery = data.get("recovery", {})
        fields["recovery"] = RecoverySpec(**{**recovery, "healthy": tuple(recovery.get("healthy", ()))})
        fields["burn_windows"] = tuple(BurnWindow(**window) for window in data.get("burn_windows", ()))
        fields["extra_scalars"] = {
            name: Scalar.from_dict(scalar) for name, scalar in data.get("extra_scalars", {}).items()
        }
        return cls(**fields)

