"""The tiny LLM through torch-lm on CUDA (vLLM's CUDA wheel is too large to carry to the GPU
box); skipped on CPU."""

from __future__ import annotations

import pytest
import torch

from reference_server.backends.generative import GenerationRequest, make_generative_backend

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.llm,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA device (torch.cuda.is_available() is false): run scripts/gpu_check.sh on a GPU machine"),
]


def test_torch_lm_generates_on_cuda(loop_thread, tiny_model_dir) -> None:
    backend = make_generative_backend("torch-lm", tiny_model_dir, {"device": "cuda"}, name="tiny-llm-cuda")
    loop_thread.run(backend.start())
    try:
        assert backend.device == "cuda" and next(backend._model.parameters()).device.type == "cuda"

        async def collect():
            request = GenerationRequest("cuda", prompt="def f(x):", max_tokens=32, ignore_eos=True, seed=1)
            return [chunk async for chunk in backend.generate(request)]

        chunks = loop_thread.run(collect())
    finally:
        loop_thread.run(backend.shutdown())
    assert chunks[-1].output_tokens == 32 and chunks[-1].finish_reason == "length"
