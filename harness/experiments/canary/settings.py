"""The `canary:` block of a scenario: which versions, the traffic steps, and how to judge."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.analysis.judge_settings import METRIC_GROUPS, JudgeSettings
from harness.fields import Ratio, Seconds, Strict

MetricGroup = Literal["latency", "error_rate", "prediction", "cohort_prediction"]


class CanarySettings(Strict):
    baseline: str = Field(min_length=1, description="the version serving now")
    candidate: str = Field(min_length=1, description="the version under judgement")
    steps: list[Ratio] = Field(default=[0.05, 0.25, 0.5], min_length=1,
                               description="the candidate's share of traffic in each step")
    step_duration: Seconds = Field(default=60.0, gt=0)
    start: Seconds | None = Field(default=None, description="when the first step begins (default: the warm-up's end)")
    metrics: list[MetricGroup] = Field(default=["latency", "error_rate"], min_length=1)
    cohort: str | None = Field(default=None, min_length=1, description="an input feature (or one-hot group) whose "
                                                                       "values slice cohort_prediction")
    on_fail: Literal["rollback", "continue"] = "rollback"
    confidence: float = Field(default=0.98, gt=0.5, lt=1)
    tolerance: float = Field(default=0.25, ge=0)
    quantiles: list[float] = Field(default=[0.5, 0.95, 0.99])
    allowed_increase: dict[MetricGroup, Ratio] = Field(default_factory=dict)
    critical: list[str] = Field(default_factory=list, description="metric groups or names that fail the canary alone")
    latency_slack: Seconds = Field(default=0.0, description="a latency increase smaller than this is no regression")
    pass_score: float = Field(default=95.0, ge=0, le=100)
    marginal_score: float = Field(default=75.0, ge=0, le=100)

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: list[float]) -> list[float]:
        if any(share <= 0 for share in steps):
            raise ValueError("every step must give the candidate some traffic")
        if steps != sorted(steps):
            raise ValueError("steps must not fall: a canary's share only grows until it is judged")
        return steps

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, quantiles: list[float]) -> list[float]:
        if any(not 0 < q < 1 for q in quantiles):
            raise ValueError("quantiles lie strictly between 0 and 1 (0.99 is p99)")
        return quantiles

    @model_validator(mode="after")
    def _consistent(self) -> CanarySettings:
        if self.baseline == self.candidate:
            raise ValueError("candidate: must differ from the baseline")
        if self.marginal_score > self.pass_score:
            raise ValueError("marginal_score: must not exceed pass_score")
        if "cohort_prediction" in self.metrics and self.cohort is None:
            raise ValueError("cohort: cohort_prediction needs the feature that slices the cohorts")
        unknown = [name for name in self.critical if name not in METRIC_GROUPS and not name.startswith(METRIC_GROUPS)]
        if unknown:
            raise ValueError(f"critical: {unknown[0]!r} names no metric (groups: {', '.join(METRIC_GROUPS)})")
        return self

    def judge_settings(self, seed: int) -> JudgeSettings:
        return JudgeSettings(metrics=tuple(self.metrics), confidence=self.confidence, tolerance=self.tolerance,
                             quantiles=tuple(self.quantiles), allowed_increase=dict(self.allowed_increase),
                             critical=tuple(self.critical), latency_slack_ms=self.latency_slack * 1e3, pass_score=self.pass_score,
                             marginal_score=self.marginal_score, seed=seed)
