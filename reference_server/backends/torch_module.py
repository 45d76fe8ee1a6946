"""Shared behaviour of backends that wrap a torch.nn.Module: device placement and predict."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from ..repository import RepositoryError
from .base import BackendContext, Outputs, ServedBy, Serving


class TorchModuleBackend:
    """Subclasses implement `_load_module()`; everything else is common."""

    serving: ClassVar[Serving] = "batched"

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx
        self.device = torch.device(ctx.device)
        if len(ctx.spec.inputs) != 1:
            raise RepositoryError(f"{ctx.model}/{ctx.version}: torch backends take exactly one input")
        self.n_features = ctx.spec.inputs[0].shape[-1]
        self.output_names = [o.name for o in ctx.spec.outputs] or ["output"]
        self.module: torch.nn.Module | None = None

    def _load_module(self) -> torch.nn.Module:
        raise NotImplementedError

    def load(self) -> None:
        self.module = self._load_module().to(self.device).eval()

    def warmup(self) -> None:
        self.predict(np.zeros((1, self.n_features), dtype=np.float32))

    def predict(self, batch: np.ndarray) -> Outputs:
        assert self.module is not None, "predict before load"
        with torch.inference_mode():
            result = self.module(torch.from_numpy(batch).to(self.device, non_blocking=True))
        tensors = result if isinstance(result, (tuple, list)) else (result,)
        return {name: t.float().cpu().numpy() for name, t in zip(self.output_names, tensors)}

    def served_by(self) -> ServedBy:
        return ServedBy(self.ctx.spec.backend, self.device.type)

    def close(self) -> None:
        self.module = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
