"""`torchscript` backend: a serialized TorchScript module (torch.jit.save)."""

from __future__ import annotations

import torch

from ..repository import RepositoryError
from .base import register_backend
from .torch_module import TorchModuleBackend


@register_backend("torchscript")
class TorchScriptBackend(TorchModuleBackend):
    def _load_module(self) -> torch.nn.Module:
        if self.ctx.artifact is None:
            raise RepositoryError(f"{self.ctx.model}/{self.ctx.version}: torchscript needs an artifact")
        try:
            return torch.jit.load(str(self.ctx.artifact), map_location=self.ctx.device)
        except RuntimeError as e:
            raise RepositoryError(f"{self.ctx.artifact}: not a TorchScript archive: {e}") from e
