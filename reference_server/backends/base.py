"""The backend plugin seam: a small Protocol per serving style and a name → class registry.

A backend module registers itself with `@register_backend("name")`; model.json's "backend"
key picks the class. The built-in backends are listed in backends/builtin.py, which the
registry imports on its first lookup. `serving` tells the server how requests reach it:

- "batched": `predict(batch)` runs on a per-version executor thread behind the dynamic batcher
  (torch, torchscript). The tensor protocol stays small: load, warmup, predict, close.
- "direct": `await infer(body, rows)` runs on the event loop and must not block it (sim).
- "custom": not reachable through /v2 infer; the backend serves its own routes, registered with
  `reference_server.extensions.register_routes` (generative backends under /v1).

load(), warmup() and close() may be plain (run in a worker thread) or async (awaited on the loop).
Once loaded, `served_by()` says what really serves the version, which the server's metadata
reports: model.json may name a backend that falls back to another, or a device it cannot get.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np

from slogate_common.registry import Registry, UnknownEntry

from ..placement import Placement
from ..repository import ModelSpec, RepositoryError

Serving = Literal["batched", "direct", "custom"]
Outputs = dict[str, np.ndarray]  # output name → array with the batch's rows first
B = TypeVar("B", bound=type)


@dataclass(frozen=True)
class BackendContext:
    """Everything a backend may need to construct itself."""

    model: str
    version: str
    spec: ModelSpec
    version_dir: Path
    artifact: Path | None  # sha256 already verified
    placement: Placement  # `device` resolves it; a backend that never asks never imports torch

    @property
    def device(self) -> str:
        """"cpu" or "cuda": --device, resolved."""
        return self.placement.device


@dataclass(frozen=True)
class ServedBy:
    backend: str  # the backend computing the replies (a fallback's name, where one took over)
    device: str  # "cpu" or "cuda"


@runtime_checkable
class Backend(Protocol):
    serving: ClassVar[Serving]

    def __init__(self, ctx: BackendContext) -> None: ...
    def load(self) -> None | Awaitable[None]: ...
    def warmup(self) -> None | Awaitable[None]: ...
    def close(self) -> None | Awaitable[None]: ...
    def served_by(self) -> ServedBy: ...


class BatchedBackend(Backend, Protocol):
    def predict(self, batch: np.ndarray) -> Outputs:
        """Rows in, one array per output out, same row order. Called from one worker thread."""
        ...


class DirectBackend(Backend, Protocol):
    async def infer(self, body: dict[str, Any], rows: int) -> Outputs: ...


BACKENDS: Registry[type] = Registry("backend", builtins="reference_server.backends.builtin")


def register_backend(name: str) -> Callable[[B], B]:
    def decorate(cls: B) -> B:
        BACKENDS.add(name, cls)
        return cls

    return decorate


def backend_class(name: str) -> type:
    """The class model.json's "backend" names; an unknown name refuses the version."""
    try:
        return BACKENDS.get(name)
    except UnknownEntry as e:
        raise RepositoryError(str(e)) from None
