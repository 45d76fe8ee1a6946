"""The demo `fraud` model: fraud/1, fraud/2 and fraud/3, torch MLPs trained from fixed seeds
on synthetic transactions. v1 and v2 differ in architecture and training (v2 is deeper and
weights fraud higher), so a canary judge can tell them apart on both latency and outputs.
v3 is a planted bad canary: v2's recipe and latency, trained on rows where a share of the
web channel's legitimate transactions were mislabelled as fraud, so it flags web
transactions far more often and every other channel about as v2 does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ..backends.torch_mlp import MLP, build_mlp
from ..model_manager import TRAFFIC_FILE
from ..repository import SPEC_FILE, sha256_file
from .baseline import feature_baseline
from .registry import register_demo_model
from .synthetic_fraud import BINARY, DATA_SEED, FEATURES, transactions

TRAIN_ROWS, TEST_ROWS = 40_000, 10_000
SERVING = {"2": 100}  # v3 is staged for canary judgements and takes no traffic until given some


@dataclass(frozen=True)
class FraudRecipe:
    version: str
    layers: list[int]
    epochs: int
    lr: float
    pos_weight: float  # >1 shifts scores up: v2 flags more transactions than v1
    seed: int
    batching: dict[str, float]
    mislabelled: tuple[str, float] | None = None  # (binary feature, share of its negatives labelled fraud)


FRAUD_RECIPES = [
    FraudRecipe("1", [14, 32, 1], epochs=4, lr=3e-3, pos_weight=1.0, seed=1,
                batching={"max_batch_size": 32, "max_queue_delay_ms": 0.0, "max_queue_size": 512}),
    FraudRecipe("2", [14, 256, 128, 64, 1], epochs=6, lr=1e-3, pos_weight=4.0, seed=2,
                batching={"max_batch_size": 64, "max_queue_delay_ms": 2.0, "max_queue_size": 512}),
    FraudRecipe("3", [14, 256, 128, 64, 1], epochs=6, lr=1e-3, pos_weight=4.0, seed=2,
                batching={"max_batch_size": 64, "max_queue_delay_ms": 2.0, "max_queue_size": 512},
                mislabelled=("channel_web", 0.15)),
]


@register_demo_model("fraud", builder_version="2")
def build_fraud_models(repo: Path) -> None:
    train_x, train_y = transactions(TRAIN_ROWS, DATA_SEED)
    test_x, test_y = transactions(TEST_ROWS, DATA_SEED + 1)
    baseline = feature_baseline(train_x, FEATURES, BINARY)
    with torch_threads(max(1, os.cpu_count() or 1)):
        for recipe in FRAUD_RECIPES:
            model = train_mlp(recipe, train_x, _training_labels(recipe, train_x, train_y))
            auc = _auc(_scores(model, test_x), test_y)
            write_mlp_version(repo / "fraud" / recipe.version, model, recipe.layers, recipe.batching, baseline,
                              extra={"description": f"synthetic card-fraud classifier v{recipe.version}",
                                     "training": {"rows": TRAIN_ROWS, "epochs": recipe.epochs, "lr": recipe.lr,
                                                  "pos_weight": recipe.pos_weight, "seed": recipe.seed,
                                                  "mislabelled": recipe.mislabelled,
                                                  "test_auc": round(auc, 4)}})
    (repo / "fraud" / TRAFFIC_FILE).write_text(json.dumps(SERVING))


def write_mlp_version(
    version_dir: Path, model: MLP, layers: list[int], batching: dict[str, float],
    baseline: dict[str, Any], extra: dict[str, Any] | None = None,
) -> None:
    """Write a `torch` backend version: safetensors weights + model.json with its sha256."""
    version_dir.mkdir(parents=True, exist_ok=True)
    artifact = version_dir / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(artifact))
    spec = {
        "backend": "torch",
        "artifact": artifact.name,
        "sha256": sha256_file(artifact),
        "architecture": {"kind": "mlp", "layers": layers, "activation": "relu", "output_activation": "sigmoid"},
        "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, len(FEATURES)], "feature_names": FEATURES}],
        "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": [-1, 1]}],
        "batching": batching,
        "baseline": baseline,
        **(extra or {}),
    }
    (version_dir / SPEC_FILE).write_text(json.dumps(spec, indent=2))


def _training_labels(recipe: FraudRecipe, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if recipe.mislabelled is None:
        return y
    feature, share = recipe.mislabelled
    in_cohort = x[:, FEATURES.index(feature)] > 0.5
    flipped = in_cohort & (y < 0.5) & (np.random.default_rng(recipe.seed).random(len(y)) < share)
    return np.where(flipped, 1.0, y).astype(y.dtype)


def train_mlp(recipe: FraudRecipe, x: np.ndarray, y: np.ndarray) -> MLP:
    torch.manual_seed(recipe.seed)
    model = build_mlp({"kind": "mlp", "layers": recipe.layers})
    model.feature_mean.copy_(torch.from_numpy(x.mean(0)))
    model.feature_std.copy_(torch.from_numpy(x.std(0) + 1e-6))
    net_without_sigmoid = model.net[:-1]
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(recipe.pos_weight))
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)[:, None]
    generator = torch.Generator().manual_seed(recipe.seed)
    for _ in range(recipe.epochs):
        for idx in torch.randperm(len(xs), generator=generator).split(512):
            logits = net_without_sigmoid((xs[idx] - model.feature_mean) / model.feature_std)
            loss = loss_fn(logits, ys[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def _scores(model: MLP, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy().ravel()


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties are negligible for continuous scores)."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores)] = np.arange(1, len(scores) + 1)
    positives = labels > 0.5
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


class torch_threads:
    """Training may use every core; serving later sets its own thread count."""

    def __init__(self, n: int) -> None:
        self.n, self.before = n, torch.get_num_threads()

    def __enter__(self) -> None:
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.before)
