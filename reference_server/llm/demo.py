"""The demo repository's `tiny-llm/1`: built by build_tiny_llm, rebuilt when the builder changes.

Its model.json names vLLM with torch-lm as the fallback, so the same demo serves on
machines without vLLM (backends/generative_host.py picks).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from reference_server.demo_registry import register_demo_model
from reference_server.llm import tiny_llm


def _builder_digest() -> str:
    """The builder's own source: any edit to tiny_llm.py changes the stamp and rebuilds."""
    return hashlib.sha256(Path(tiny_llm.__file__).read_bytes()).hexdigest()[:16]


@register_demo_model("tiny-llm", version=_builder_digest())
def build_tiny_llm_demo(repo: Path) -> None:
    tiny_llm.build_tiny_llm(repo / "tiny-llm" / "1")
