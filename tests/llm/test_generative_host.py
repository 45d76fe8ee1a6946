"""Which engine serves an LLM version, and where a truncate fault cuts (pure functions)."""

from __future__ import annotations

import pytest

from reference_server.backends.generative_host import serving_kind
from reference_server.faults import Effects
from reference_server.repository import ModelSpec

pytestmark = pytest.mark.llm


@pytest.mark.parametrize(
    ("spec", "forced", "vllm_imports", "kind"),
    [
        ({"backend": "vllm"}, None, True, "vllm"),
        ({"backend": "vllm"}, None, False, "torch-lm"),
        ({"backend": "vllm", "fallback_backend": "other"}, None, False, "other"),
        ({"backend": "torch-lm"}, None, True, "torch-lm"),
        ({"backend": "vllm"}, "torch-lm", True, "torch-lm"),
    ],
)
def test_serving_kind(spec: dict, forced: str | None, vllm_imports: bool, kind: str) -> None:
    assert serving_kind(ModelSpec.model_validate(spec), forced, vllm_imports) == kind


def test_a_random_cut_lands_strictly_inside_the_reply() -> None:
    cuts = {Effects(truncate=True).cut_after(8) for _ in range(500)}
    assert cuts == set(range(1, 8))
    assert Effects(truncate=True).cut_after(1) == 1
    assert Effects(truncate=True, truncate_chunks=3).cut_after(100) == 3
    assert Effects().cut_after(8) is None
