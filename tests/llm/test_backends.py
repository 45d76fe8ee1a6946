"""Both generative backends, for real, on the tiny model (one engine each per session)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reference_server.backends.generative import (
    GenerationChunk,
    GenerationRequest,
    GenerativeBackend,
    InvalidGeneration,
    make_generative_backend,
    registered_generative_backends,
)
from reference_server.backends.torch_lm import torch_settings
from reference_server.backends.vllm_engine import engine_settings

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


async def _collect(backend: GenerativeBackend, req: GenerationRequest) -> list[GenerationChunk]:
    return [chunk async for chunk in backend.generate(req)]


def test_ignore_eos_streams_exactly_max_tokens(loop_thread, backend: GenerativeBackend, tokenizer) -> None:
    req = GenerationRequest("exact", prompt="import os\n", max_tokens=40, ignore_eos=True, seed=7)
    chunks = loop_thread.run(_collect(backend, req))
    assert chunks[-1].finish_reason == "length" and chunks[-1].output_tokens == 40
    assert all(c.finish_reason is None for c in chunks[:-1])
    # Deltas: token counts add up to the cumulative count, one token per step.
    assert sum(c.token_ids_count for c in chunks) == 40
    assert [c.output_tokens for c in chunks] == sorted(c.output_tokens for c in chunks)
    assert len([c for c in chunks if c.token_ids_count]) >= 40 * 0.9
    assert chunks[0].prompt_tokens == len(tokenizer("import os\n").input_ids)


def test_chat_uses_the_models_template(loop_thread, backend: GenerativeBackend, tokenizer) -> None:
    messages = [{"role": "user", "content": "hello"}]
    req = GenerationRequest("chat", messages=messages, max_tokens=5, ignore_eos=True)
    chunks = loop_thread.run(_collect(backend, req))
    rendered = backend.apply_chat_template(messages)
    assert rendered.endswith("<|assistant|>\n")
    assert chunks[-1].prompt_tokens == len(tokenizer(rendered).input_ids)


def test_same_seed_same_text(loop_thread, backend: GenerativeBackend) -> None:
    def text(request_id: str) -> str:
        req = GenerationRequest(request_id, prompt="class A:", max_tokens=20, ignore_eos=True, seed=3, temperature=0.8)
        return "".join(c.text for c in loop_thread.run(_collect(backend, req)))

    assert text("s1") == text("s2")


def test_prompt_longer_than_the_context_is_rejected(loop_thread, backend: GenerativeBackend) -> None:
    req = GenerationRequest("long", prompt="x " * 600, max_tokens=4)
    with pytest.raises(InvalidGeneration):
        loop_thread.run(_collect(backend, req))
    fits = GenerationRequest("room", prompt="x", max_tokens=600)
    with pytest.raises(InvalidGeneration) as info:
        loop_thread.run(_collect(backend, fits))
    assert info.value.field == "max_tokens"


def test_closing_the_stream_aborts_the_generation(loop_thread, vllm_backend: GenerativeBackend) -> None:
    async def read_two_then_leave() -> int:
        stream = vllm_backend.generate(GenerationRequest("gone", prompt="a", max_tokens=400, ignore_eos=True))
        async for chunk in stream:
            if chunk.output_tokens >= 2:
                break
        await stream.aclose()
        await asyncio.sleep(0.1)
        # No public API reports this; the engine's own counter is the ground truth.
        return vllm_backend._engine.get_num_unfinished_requests()

    assert loop_thread.run(read_two_then_leave()) == 0


def test_registry_knows_both_backends(tiny_model_dir: Path) -> None:
    assert {"vllm", "torch-lm"} <= set(registered_generative_backends())
    with pytest.raises(ValueError, match="unknown generative backend"):
        make_generative_backend("tgi", tiny_model_dir)


def test_vllm_settings_per_device() -> None:
    cpu_args, cpu_env = engine_settings(Path("/m"), "m", "cpu", {})
    assert cpu_args["dtype"] == "float32" and cpu_args["enforce_eager"] and cpu_args["max_model_len"] == 512
    assert "gpu_memory_utilization" not in cpu_args
    assert cpu_env == {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    cuda_args, cuda_env = engine_settings(Path("/m"), "m", "cuda", {"gpu_memory_utilization": 0.5})
    assert cuda_args["dtype"] == "bfloat16" and cuda_args["gpu_memory_utilization"] == 0.5
    assert "VLLM_CPU_KVCACHE_SPACE" not in cuda_env
    assert engine_settings(Path("/m"), "m", "cpu", {"kv_cache_gib": 4})[1]["VLLM_CPU_KVCACHE_SPACE"] == "4"
    with pytest.raises(ValueError):
        engine_settings(Path("/m"), "m", "tpu", {})


def test_torch_lm_settings_per_device() -> None:
    assert torch_settings("auto", {}, cuda_available=False) == ("cpu", "float32")
    assert torch_settings("auto", {}, cuda_available=True) == ("cuda", "bfloat16")
    assert torch_settings("cuda", {"dtype": "float16"}, cuda_available=True) == ("cuda", "float16")
    with pytest.raises(ValueError, match="cuda.is_available"):
        torch_settings("cuda", {}, cuda_available=False)
