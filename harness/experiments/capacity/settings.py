"""The `capacity:` block of a scenario: how `slogate capacity` searches it (not read by `slogate run`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from harness.fields import Ratio, Seconds, Strict


class CapacitySettings(Strict):
    start: float | None = Field(default=None, gt=0, description="first step's rate (or concurrency); "
                                                                 "default: the scenario's first phase")
    ceiling: float = Field(default=1e6, gt=0)
    floor: float = Field(default=1.0, gt=0)
    bisections: int = Field(default=3, ge=0, le=10)
    max_steps: int = Field(default=12, ge=1, le=100)
    step_duration: Seconds = Field(default=10.0, gt=0, description="the shortest measured step")
    max_step_duration: Seconds = Field(default=120.0, gt=0, description="the longest, however many requests "
                                                                        "certifying a percentile needs")
    warmup: Seconds = 2.0
    confirm_misses: bool = True  # a miss is re-run once before it counts
    peak_rate: float | None = Field(default=None, gt=0, description="req/s the fleet must serve")
    headroom: Ratio = 0.3

    @model_validator(mode="after")
    def _consistent(self) -> CapacitySettings:
        if self.floor > self.ceiling:
            raise ValueError("floor: must not exceed the ceiling")
        if self.max_step_duration < self.step_duration:
            raise ValueError("max_step_duration: must be at least step_duration")
        return self
