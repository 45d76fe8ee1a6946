"""`torch` backend: an MLP described by model.json's "architecture", weights in safetensors."""

from __future__ import annotations

from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from ..repository import RepositoryError
from .base import register_backend
from .torch_module import TorchModuleBackend

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
OUTPUT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "none": nn.Identity}


class MLP(nn.Module):
    """Standardise raw features with stored statistics, then a plain feed-forward stack.

    Keeping the scaler inside the weights means clients send raw, realistic feature values.
    """

    def __init__(self, layers: list[int], activation: str = "relu", output_activation: str = "sigmoid") -> None:
        super().__init__()
        if len(layers) < 2:
            raise ValueError("an MLP needs at least input and output widths")
        self.register_buffer("feature_mean", torch.zeros(layers[0]))
        self.register_buffer("feature_std", torch.ones(layers[0]))
        blocks: list[nn.Module] = []
        for i, (w_in, w_out) in enumerate(zip(layers, layers[1:])):
            blocks.append(nn.Linear(w_in, w_out))
            if i < len(layers) - 2:
                blocks.append(ACTIVATIONS[activation]())
        blocks.append(OUTPUT_ACTIVATIONS[output_activation]())
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.feature_mean) / self.feature_std)


def build_mlp(architecture: dict[str, Any]) -> MLP:
    if architecture.get("kind") != "mlp":
        raise RepositoryError(f"torch backend builds kind 'mlp', not {architecture.get('kind')!r}")
    try:
        return MLP(
            list(architecture["layers"]),
            architecture.get("activation", "relu"),
            architecture.get("output_activation", "sigmoid"),
        )
    except (KeyError, ValueError, TypeError) as e:
        raise RepositoryError(f"bad architecture {architecture}: {e}") from e


@register_backend("torch")
class TorchMLPBackend(TorchModuleBackend):
    def _load_module(self) -> nn.Module:
        spec, artifact = self.ctx.spec, self.ctx.artifact
        if spec.architecture is None or artifact is None:
            raise RepositoryError(f"{self.ctx.model}/{self.ctx.version}: torch needs architecture and artifact")
        module = build_mlp(spec.architecture)
        if module.net[0].in_features != self.n_features:
            raise RepositoryError(
                f"architecture takes {module.net[0].in_features} features, inputs declare {self.n_features}"
            )
        try:
            module.load_state_dict(load_file(str(artifact)), strict=True)
        except RuntimeError as e:
            raise RepositoryError(f"{artifact}: weights do not fit the architecture: {e}") from e
        return module
