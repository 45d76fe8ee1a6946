"""What the canary judge is asked: its metric groups, confidence, tolerances and scores.

Apart from the judge (canary_judge.py), which imports scipy: the scenario blocks that
build these settings are read by `slogate validate`, which must not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

METRIC_GROUPS = ("latency", "error_rate", "prediction", "cohort_prediction")
DEFAULT_ALLOWED = {"latency": 0.10, "error_rate": 0.0, "prediction": 0.10, "cohort_prediction": 0.10}


@dataclass(frozen=True)
class JudgeSettings:
    metrics: tuple[str, ...] = ("latency", "error_rate")
    confidence: float = 0.98  # Kayenta's
    tolerance: float = 0.25  # Kayenta's
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    allowed_increase: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ALLOWED))
    critical: tuple[str, ...] = ()
    latency_slack_ms: float = 0.0
    pass_score: float = 95.0
    marginal_score: float = 75.0
    seed: int = 0

    def allowed(self, group: str) -> float:
        return self.allowed_increase.get(group, DEFAULT_ALLOWED[group])

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "allowed_increase": dict(self.allowed_increase)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeSettings:
        fields = {**data}
        for name in ("metrics", "quantiles", "critical"):
            if name in fields:
                fields[name] = tuple(fields[name])
        return cls(**fields)
