"""Where torch models run: `--device` resolved to cpu or cuda the first time a model asks.

Importing torch takes ~3 s of a server's start on these machines, more than the rest of the
server together. A repository of sim models never touches torch, so neither does its
server; the first torch-backed version to load resolves the device (and sets torch's thread
count) before it places its weights. `--device cuda` is checked at start, so a box without
CUDA still refuses it before serving anything.
"""

from __future__ import annotations

from functools import cached_property

from .config import resolve_device


class Placement:
    def __init__(self, requested: str, torch_threads: int) -> None:
        self.requested = requested
        self.torch_threads = torch_threads
        if requested == "cuda":
            _ = self.device

    @cached_property
    def device(self) -> str:
        import torch

        torch.set_num_threads(self.torch_threads)
        return resolve_device(self.requested, torch.cuda.is_available())
