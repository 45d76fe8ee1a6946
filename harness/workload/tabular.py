"""`tabular` payloads: rows drawn from the model's baseline feature statistics.

Continuous features are sampled piecewise-uniformly between the baseline's quantile
edges, which reproduces each marginal distribution (skew and tails included) without
assuming a parametric family; binary features are Bernoulli(mean), except a one-hot group
(binary columns `channel_web`, `channel_mobile`, ... whose means sum to 1), which is one
categorical draw per row, so that every row has exactly one channel. With no baseline (an
external server that publishes none) every feature is N(0, 1).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from harness.contracts import ModelInfo, Payload
from harness.workload.drift import DriftStep, Drifting, apply_drift, problems, reshaped
from harness.workload.payloads import PayloadArgs, payload_generators
from harness.workload.tabular_layout import FeatureLayout


class TabularArgs(PayloadArgs):
    generator: Literal["tabular"] = "tabular"
    rows: int = Field(default=1, ge=1, description="rows per request")
    drift: list[DriftStep] = Field(default_factory=list, description="a timeline of drift injections")


@payload_generators.register("tabular", args=TabularArgs)
class TabularGenerator:
    def __init__(self, args: TabularArgs) -> None:
        self.rows = args.rows
        self.drift = args.drift

    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator,
                 times_s: np.ndarray | None = None) -> list[Payload]:
        layout = FeatureLayout.of(info)
        unknown = problems(self.drift, layout)
        if unknown:
            raise ValueError("; ".join(unknown))
        matrix = baseline_rows(layout, n * self.rows, rng)
        times = np.full(n, np.nan) if times_s is None else np.asarray(times_s, dtype=float)
        drifting = Drifting(matrix, np.repeat(times, self.rows), layout, rng)
        reshapings, tags = apply_drift(self.drift, drifting, times)
        blocks = matrix.astype(np.float32).reshape(n, self.rows, layout.width)
        changes: list[list] = [[] for _ in range(n)]
        for reshaping in reshapings:
            for i in np.flatnonzero(reshaping.payloads):
                changes[i].append(reshaping.change)
        return [Payload(payload_id=i, data=reshaped(blocks[i], changes[i], layout) if changes[i] else blocks[i],
                        drift_tag=tags[i]) for i in range(n)]


def baseline_rows(layout: FeatureLayout, size: int, rng: np.random.Generator) -> np.ndarray:
    """[size, width] float64 rows drawn from the baseline: each column by its marginal, each
    one-hot group as one categorical draw."""
    if not layout.names:
        return np.zeros((size, 0))
    columns = [sample_feature(layout.stats.get(name), size, rng) for name in layout.names]
    for group in layout.one_hot_groups().values():
        means = np.array([layout.mean(layout.names[i]) for i in group])
        chosen = rng.choice(len(group), size, p=means / means.sum())
        for position, column in enumerate(group):
            columns[column] = (chosen == position).astype(float)
    return np.column_stack(columns)


def sample_feature(stat: dict[str, Any] | None, size: int, rng: np.random.Generator) -> np.ndarray:
    if not stat:
        return rng.standard_normal(size)
    if stat.get("kind") == "binary":
        return (rng.random(size) < float(stat["mean"])).astype(float)
    edges = np.asarray(stat.get("quantiles") or [], dtype=float)
    if edges.size < 2:
        return rng.normal(float(stat.get("mean", 0.0)), float(stat.get("std", 1.0)), size)
    bucket = rng.integers(0, edges.size - 1, size)
    return edges[bucket] + rng.random(size) * (edges[bucket + 1] - edges[bucket])

