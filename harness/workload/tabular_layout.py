"""A tabular model's input layout as the target publishes it: column names and baseline stats.

A feature is either one column or a one-hot group: binary columns sharing a `prefix_` whose
baseline means sum to 1 (`channel_web`, `channel_mobile`, `channel_pos` are `channel`, with
values `web`, `mobile`, `pos`). A binary column's values are `0` and `1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.contracts import ModelInfo

ONE_HOT_SUM_TOLERANCE = 0.02


@dataclass(frozen=True)
class FeatureLayout:
    names: list[str]
    stats: dict[str, dict[str, Any]]  # baseline statistics by column name (may be empty)
    datatype: str = "FP32"  # the input's declared datatype: what a column without statistics holds

    @classmethod
    def of(cls, info: ModelInfo) -> FeatureLayout:
        if not info.inputs:
            raise ValueError("the target published no inputs; tabular payloads need the model's input schema")
        spec = info.inputs[0]
        width = int(spec["shape"][-1])
        names = spec.get("feature_names") or info.parameters.get("feature_names") or []
        if len(names) != width:
            names = [f"f{i}" for i in range(width)]
        return cls(list(names), (info.parameters.get("baseline") or {}).get("features") or {},
                   spec.get("datatype") or "FP32")

    @property
    def width(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def knows(self, feature: str) -> bool:
        return feature in self.names or feature in self.one_hot_groups()

    def stat(self, name: str) -> dict[str, Any]:
        return self.stats.get(name) or {}

    def mean(self, name: str) -> float:
        return float(self.stat(name).get("mean", 0.0))

    def std(self, name: str) -> float:
        return float(self.stat(name).get("std", 1.0)) or 1.0

    def is_binary(self, name: str) -> bool:
        return self.stat(name).get("kind") == "binary"

    def one_hot_groups(self) -> dict[str, list[int]]:
        """Group name → its column indices, for every one-hot group."""
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            if self.is_binary(name) and "_" in name:
                groups.setdefault(name.rsplit("_", 1)[0], []).append(i)
        return {prefix: group for prefix, group in groups.items() if len(group) > 1
                and abs(sum(self.mean(self.names[i]) for i in group) - 1.0) <= ONE_HOT_SUM_TOLERANCE}

    def categories(self, feature: str) -> tuple[list[int], list[str], np.ndarray]:
        """(columns, values, baseline shares) of a one-hot group or a binary column."""
        group = self.one_hot_groups().get(feature)
        if group is not None:
            values = [self.names[i][len(feature) + 1:] for i in group]
            return group, values, np.array([self.mean(self.names[i]) for i in group])
        if feature in self.names and self.is_binary(feature):
            p = self.mean(feature)
            return [self.index(feature)], ["0", "1"], np.array([1 - p, p])
        raise ValueError(f"{feature!r} is neither a binary input column nor a one-hot group")
