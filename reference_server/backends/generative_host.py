"""Server backends `vllm` and `torch-lm`: a GenerativeBackend loaded from the model repository.

model.json (docs/ARCHITECTURE.md, "Server repository layout"):

    {"backend": "vllm", "fallback_backend": "torch-lm",
     "llm": {"model_dir": ".", "max_model_len": 512, "dtype": "float32"}}

`llm.model_dir` is the HF model directory, relative to the version directory or absolute;
the other `llm` keys are the engine's options (see vllm_engine.py and torch_lm.py). An
artifact + sha256, when given, is verified like any other.

Which engine serves: $SLOGATE_LLM_BACKEND when set (e.g. `torch-lm`, to exercise the
fallback on a machine with vLLM), else model.json's backend, where `vllm` falls back to
`fallback_backend` (default torch-lm) when vLLM does not import.

Threads: torch.set_num_threads is process-wide, and the fraud models and torch-lm share
this process, so torch-lm follows the server's --torch-threads (default: half the cores,
1 on 2 cores, the setting measured ~40x faster here) unless `llm.threads` overrides
it. vLLM computes in its own engine-core process and is unaffected.

The host starts the engine at load, runs one generation before the version counts as
loaded (ready means warm) and shuts the engine down at unload and server shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import aclosing
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..repository import ModelSpec
from .base import BackendContext, ServedBy, Serving, register_backend
from .generative import GenerationRequest, GenerativeBackend, make_generative_backend
from .vllm_engine import vllm_available

log = logging.getLogger("reference_server")

BACKEND_ENV = "SLOGATE_LLM_BACKEND"
DEFAULT_FALLBACK = "torch-lm"
WARMUP = GenerationRequest("warmup", prompt="warm up", max_tokens=4, ignore_eos=True)


def serving_kind(spec: ModelSpec, forced: str | None, vllm_imports: bool) -> str:
    """The generative backend that serves this version (pure; unit-tested)."""
    if forced:
        return forced
    if spec.backend == "vllm" and not vllm_imports:
        return str((spec.model_extra or {}).get("fallback_backend", DEFAULT_FALLBACK))
    return spec.backend


def engine_options(ctx: BackendContext) -> tuple[Path, dict[str, Any]]:
    """(HF model directory, engine options) from model.json's `llm` section and the server."""
    options = dict(ctx.spec.section("llm"))
    model_dir = ctx.version_dir / str(options.pop("model_dir", "."))  # an absolute model_dir wins
    options.setdefault("device", ctx.device)  # --device, already resolved to cpu or cuda
    options.setdefault("threads", torch.get_num_threads())
    return model_dir, options


@register_backend("vllm")
@register_backend("torch-lm")
class GenerativeHost:
    serving: ClassVar[Serving] = "custom"

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx
        self.kind = ctx.spec.backend
        self.generative: GenerativeBackend | None = None

    async def load(self) -> None:
        forced = os.environ.get(BACKEND_ENV)
        # Importing vllm takes seconds: off the loop, so liveness keeps answering.
        vllm_imports = forced is None and self.ctx.spec.backend == "vllm" and await asyncio.to_thread(vllm_available)
        self.kind = serving_kind(self.ctx.spec, forced, vllm_imports)
        if self.kind != self.ctx.spec.backend:
            why = f"${BACKEND_ENV}" if forced else "vLLM does not import here"
            log.info("%s/%s: served by %s (%s)", self.ctx.model, self.ctx.version, self.kind, why)
        model_dir, options = engine_options(self.ctx)
        self.generative = make_generative_backend(self.kind, model_dir, options, name=self.ctx.model)
        await self.generative.start()

    async def warmup(self) -> None:
        assert self.generative is not None
        try:
            async with aclosing(self.generative.generate(WARMUP)) as chunks:
                async for _ in chunks:
                    pass
        except BaseException:
            await self.close()  # the version is refused: its engine (processes) must not linger
            raise

    def served_by(self) -> ServedBy:
        assert self.generative is not None, "served_by before load"
        return ServedBy(self.kind, self.generative.device)

    async def close(self) -> None:
        if self.generative is not None:
            await self.generative.shutdown()
