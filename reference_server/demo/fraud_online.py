"""The demo `fraud-online` model: fraud/1's recipe, whose per-card aggregates (card_features.STORED)
come from an online feature store instead of the request (features.py). A request sends the
card id and the transaction's own columns. Version 1 bounds each lookup at 20 ms and falls
back to the card's last stored values (else the baseline means); version 2 is the same model
with neither a timeout nor a fallback, so a store that is down answers 503 and one that is
paused holds every request: a feature-store outage's mitigation and its absence, side by side.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .baseline import feature_baseline
from .card_features import CARDS, KEY, KEY_PREFIX, STORED
from .fraud import FRAUD_RECIPES, TRAIN_ROWS, torch_threads, train_mlp, write_mlp_version
from .registry import register_demo_model
from .synthetic_fraud import BINARY, DATA_SEED, FEATURES, transactions

LOOKUPS = {"1": {"timeout_ms": 20, "fallback": "cached"}, "2": {"timeout_ms": None, "fallback": "none"}}


@register_demo_model("fraud-online", builder_version="1")
def build_fraud_online(repo: Path) -> None:
    recipe = FRAUD_RECIPES[0]
    train_x, train_y = transactions(TRAIN_ROWS, DATA_SEED)
    baseline = feature_baseline(train_x, FEATURES, BINARY)
    baseline["features"][KEY] = card_baseline()  # what the tabular payload generator draws ids from
    with torch_threads(max(1, os.cpu_count() or 1)):
        model = train_mlp(recipe, train_x, train_y)
    for version, lookup in LOOKUPS.items():
        features = {"store": "redis", "key_input": KEY, "key_prefix": KEY_PREFIX, "fields": STORED, **lookup}
        write_mlp_version(repo / "fraud-online" / version, model, recipe.layers, recipe.batching, baseline,
                          extra={"description": f"fraud/1 with online card features, lookup {lookup}",
                                 "features": features})


def card_baseline() -> dict:
    """Card ids drawn evenly: each card about as often as any other."""
    ids = np.arange(CARDS, dtype=float)
    return {"kind": "continuous", "mean": float(ids.mean()), "std": float(ids.std()),
            "quantiles": [float(q) for q in np.linspace(0, CARDS - 1, 101)], "integer": True}
