"""Per-feature baseline statistics recorded in model.json for drift detection."""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILE_LEVELS = np.linspace(0.0, 1.0, 11)  # 11 edges → 10 equal-mass bins


def feature_baseline(data: np.ndarray, names: list[str], binary: frozenset[str]) -> dict[str, Any]:
    """{"features": {name: {kind, mean, std[, quantiles]}}} from training rows [n, len(names)]."""
    features: dict[str, Any] = {}
    for i, name in enumerate(names):
        column = data[:, i].astype(np.float64)
        stats: dict[str, Any] = {
            "kind": "binary" if name in binary else "continuous",
            "mean": float(column.mean()),
            "std": float(column.std()),
        }
        if name not in binary:
            stats["quantiles"] = [float(q) for q in np.quantile(column, QUANTILE_LEVELS)]
        features[name] = stats
    return {"features": features}
