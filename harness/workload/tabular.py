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
from harness.workload.payloads import PayloadArgs, payload_generators


class TabularArgs(PayloadArgs):
    generator: Literal["tabular"] = "tabular"
    rows: int = Field(default=1, ge=1, description="rows per request")


@payload_generators.register("tabular", args=TabularArgs)
class TabularGenerator:
    def __init__(self, args: TabularArgs) -> None:
        self.rows = args.rows

    def generate(self, n: int, info: ModelInfo, rng: np.random.Generator) -> list[Payload]:
        names, width = feature_layout(info)
        stats = (info.parameters.get("baseline") or {}).get("features") or {}
        columns = [sample_feature(stats.get(name), n * self.rows, rng) for name in names]
        for group in one_hot_groups(names, stats):
            draw_one_hot(columns, group, [float(stats[names[i]]["mean"]) for i in group], rng)
        matrix = np.column_stack(columns).astype(np.float32) if columns else np.zeros((n * self.rows, width), np.float32)
        blocks = matrix.reshape(n, self.rows, width)
        return [Payload(payload_id=i, data=blocks[i]) for i in range(n)]


def feature_layout(info: ModelInfo) -> tuple[list[str], int]:
    if not info.inputs:
        raise ValueError("the target published no inputs; the tabular generator needs the model's input schema")
    spec = info.inputs[0]
    width = int(spec["shape"][-1])
    names = spec.get("feature_names") or info.parameters.get("feature_names") or []
    if len(names) != width:
        names = [f"f{i}" for i in range(width)]
    return list(names), width


ONE_HOT_SUM_TOLERANCE = 0.02


def one_hot_groups(names: list[str], stats: dict[str, Any]) -> list[list[int]]:
    """Column indices of each one-hot group: binary columns sharing a `prefix_` whose means sum to 1."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if (stats.get(name) or {}).get("kind") == "binary" and "_" in name:
            groups.setdefault(name.rsplit("_", 1)[0], []).append(i)
    return [group for group in groups.values() if len(group) > 1
            and abs(sum(float(stats[names[i]]["mean"]) for i in group) - 1.0) <= ONE_HOT_SUM_TOLERANCE]


def draw_one_hot(columns: list[np.ndarray], group: list[int], means: list[float], rng: np.random.Generator) -> None:
    size = columns[group[0]].size
    chosen = rng.choice(len(group), size, p=np.asarray(means) / sum(means))
    for position, column in enumerate(group):
        columns[column] = (chosen == position).astype(float)


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

