"""Generative backend `torch-lm`: plain transformers, for machines without vLLM.

A manual decode loop with a KV cache runs in one worker thread and hands each token to the
event loop the moment it is sampled, so chunk times are true per-token times. Sequences
are served one at a time (no continuous batching): this is the portable fallback, not the
fast path. Torch runs on one intra-op thread (measured ~40x faster on 2 cores than the
default, which oversubscribes); that setting is process-wide.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reference_server.backends.generative import (
    GenerationChunk,
    GenerationRequest,
    Message,
    configured_max_model_len,
    output_budget,
    prompt_text,
    register_generative_backend,
    render_chat,
)
from reference_server.config import resolve_device

_DONE = object()  # queue marker: the worker finished; the next item is the finish reason


def torch_settings(device: str, options: dict[str, Any], cuda_available: bool) -> tuple[str, str]:
    """(device, dtype) for the options (pure; unit-tested): bf16 on CUDA, fp32 on CPU."""
    device = resolve_device(device, cuda_available)
    return device, options.get("dtype", "bfloat16" if device == "cuda" else "float32")


@register_generative_backend("torch-lm")
class TorchLmBackend:
    def __init__(self, name: str, model_dir: Path, options: dict[str, Any]) -> None:
        self.model_name = name
        self.model_dir = model_dir
        self.options = options
        self.max_model_len = configured_max_model_len(options)
        self.load_seconds: float | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = "cpu"
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="torch-lm")

    async def start(self) -> None:
        began = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self._worker, self._load)
        self.load_seconds = time.perf_counter() - began

    def _load(self) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(int(self.options.get("threads", 1)))
        device, dtype = torch_settings(self.options.get("device", "auto"), self.options, torch.cuda.is_available())
        self.device = device
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=getattr(torch, dtype))
        self._model = model.to(device).eval()

    def apply_chat_template(self, messages: list[Message]) -> str:
        return render_chat(self._tokenizer, messages)

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        prompt_ids = self._tokenizer(prompt_text(self, req)).input_ids
        max_tokens = output_budget(req, len(prompt_ids), self.max_model_len)
        loop = asyncio.get_running_loop()
        tokens: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(tokens.put_nowait, item)

        loop.run_in_executor(self._worker, self._decode, prompt_ids, max_tokens, req, emit, cancel)
        try:
            async for chunk in self._detokenize(tokens, len(prompt_ids), req.stop):
                yield chunk
        finally:
            cancel.set()  # client gone or stop string hit: the worker stops at its next token

    async def shutdown(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._model = None

    async def _detokenize(
        self, tokens: asyncio.Queue[Any], prompt_tokens: int, stop: tuple[str, ...]
    ) -> AsyncIterator[GenerationChunk]:
        """Turn sampled ids into text deltas; hold back bytes of an incomplete UTF-8 character."""
        ids: list[int] = []
        sent = ""
        while (item := await tokens.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            ids.append(item)
            text = self._tokenizer.decode(ids, skip_special_tokens=True)
            if text.endswith("\ufffd"):  # a multi-byte character split across tokens
                yield GenerationChunk("", 1, prompt_tokens, len(ids))
                continue
            cut = _stop_position(text, stop, len(sent))
            if cut is not None:
                yield GenerationChunk(text[len(sent) : cut], 1, prompt_tokens, len(ids), "stop")
                return
            yield GenerationChunk(text[len(sent) :], 1, prompt_tokens, len(ids))
            sent = text
        reason = await tokens.get()
        yield GenerationChunk("", 0, prompt_tokens, len(ids), reason)

    def _decode(
        self,
        prompt_ids: list[int],
        max_tokens: int,
        req: GenerationRequest,
        emit: Callable[[Any], None],
        cancel: threading.Event,
    ) -> None:
        try:
            reason = self._decode_loop(prompt_ids, max_tokens, req, emit, cancel)
        except Exception as exc:  # noqa: BLE001 - surfaced to the request, never lost in the thread
            emit(exc)
            return
        emit(_DONE)
        emit(reason)

    def _decode_loop(
        self,
        prompt_ids: list[int],
        max_tokens: int,
        req: GenerationRequest,
        emit: Callable[[int], None],
        cancel: threading.Event,
    ) -> str:
        import torch

        sample = _sampler(req, self.device)
        eos = self._tokenizer.eos_token_id
        step = torch.tensor([prompt_ids], device=self.device)
        past = None
        with torch.inference_mode():
            for _ in range(max_tokens):
                if cancel.is_set():
                    return "abort"
                out = self._model(input_ids=step, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = sample(out.logits[0, -1])
                emit(token)
                if token == eos and not req.ignore_eos:
                    return "stop"
                step = torch.tensor([[token]], device=self.device)
        return "length"


def _stop_position(text: str, stop: tuple[str, ...], searched_to: int) -> int | None:
    """Where the earliest stop string starts, looking only at text not yet streamed."""
    hits = []
    for s in stop:
        # A stop string may straddle the old/new boundary, so step back len(s)-1 characters.
        at = text.find(s, max(0, searched_to - len(s) + 1))
        if at >= 0:
            hits.append(at)
    return min(hits) if hits else None


def _sampler(req: GenerationRequest, device: str) -> Callable[[Any], int]:
    """Greedy at temperature 0; otherwise temperature + nucleus (top-p) sampling, seedable."""
    import torch

    if req.temperature <= 0:
        return lambda logits: int(torch.argmax(logits))
    gen = torch.Generator(device=device)
    gen.manual_seed(req.seed if req.seed is not None else int.from_bytes(os.urandom(4), "little"))

    def sample(logits: Any) -> int:
        probs = torch.softmax(logits.float() / req.temperature, dim=-1)
        if req.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            keep = torch.cumsum(sorted_probs, 0) - sorted_probs < req.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=gen))

    return sample
