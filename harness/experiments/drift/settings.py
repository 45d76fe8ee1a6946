"""The `drift_monitor:` block: whose drift monitor judges the scenario's drift injection, and
the effect sizes that count as an alarm."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.fields import Strict

# The reference server's own thresholds (Evidently's defaults): a monitor alarms at these.
DEFAULT_THRESHOLDS = {"wasserstein_norm": 0.1, "jensenshannon": 0.1}
Method = Literal["wasserstein_norm", "ks", "jensenshannon", "psi"]  # the gauges' `method` labels


class DriftMonitorSettings(Strict):
    versions: list[str] | None = Field(default=None, min_length=1, description="the versions whose monitors are read "
                                       "(default: target.version, else every version the split serves)")
    reset: bool = Field(default=True, description="forget the monitors' windows before the load, so that what they "
                                                  "score is this run's traffic only")
    thresholds: dict[Method, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS),
                                         description="effect size per method at which a feature counts as drifted")
