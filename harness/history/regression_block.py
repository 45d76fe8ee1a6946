"""The `regression:` block of a scenario: how much worse than its baseline run a new run may be.

```yaml
regression: {latency: +10%, error_rate: +0.1pp}
```

`latency` is the allowed relative increase of the median shift and of each judged quantile
(p50, p95, p99); `error_rate` the allowed absolute increase of the failure rate, in
percentage points. Each is judged by the canary judge's statistics, so a metric regresses
only when its whole interval lies beyond the allowance. A group left out is not judged.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from harness.analysis.judge_settings import JudgeSettings
from harness.fields import Seconds, Strict
from harness.units import parse_point_increase, parse_relative_increase

RelativeIncrease = Annotated[float, BeforeValidator(parse_relative_increase), Field(ge=0)]
PointIncrease = Annotated[float, BeforeValidator(parse_point_increase), Field(ge=0, le=1)]
Quantile = Annotated[float, Field(gt=0, lt=1)]


class RegressionSettings(Strict):
    latency: RelativeIncrease | None = Field(default=None, description="allowed increase of latency, e.g. +10%")
    error_rate: PointIncrease | None = Field(default=None, description="allowed increase of the error rate, e.g. +0.1pp")
    confidence: float = Field(default=0.98, gt=0.5, lt=1, description="of every interval (the canary judge's 98%)")
    quantiles: list[Quantile] = Field(default=[0.5, 0.95, 0.99], min_length=1)
    latency_slack: Seconds = Field(default=0.0, description="a latency increase smaller than this is no regression")

    @model_validator(mode="after")
    def _judges_something(self) -> RegressionSettings:
        if self.latency is None and self.error_rate is None:
            raise ValueError("give `latency:` (e.g. +10%), `error_rate:` (e.g. +0.1pp) or both")
        return self

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(group for group in ("latency", "error_rate") if getattr(self, group) is not None)

    def judge_settings(self, seed: int) -> JudgeSettings:
        allowed = {group: getattr(self, group) for group in self.groups}
        return JudgeSettings(metrics=self.groups, confidence=self.confidence, quantiles=tuple(self.quantiles),
                             allowed_increase=allowed, latency_slack_ms=self.latency_slack * 1e3, seed=seed)


# the gate of a scenario without a block, when a baseline is asked for: the canary judge's defaults
DEFAULT_REGRESSION = RegressionSettings(latency=0.10, error_rate=0.0)
