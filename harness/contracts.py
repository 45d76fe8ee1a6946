"""The data that crosses seams: what the workload makes, what a client learns of the target.

Neutral ground, so that protocol clients and payload generators can both use these types
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]  # one chat turn: {"role": ..., "content": ...}


@dataclass(frozen=True)
class Payload:
    """One unit of work from the workload: protocol-neutral data plus provenance."""

    payload_id: int
    data: Any  # tabular: np.ndarray rows; prompts: PromptSpec; file: dict
    drift_tag: str | None = None


@dataclass(frozen=True)
class PromptSpec:
    """One LLM request's content: exactly one of `prompt` / `messages`."""

    max_tokens: int
    prompt: str | None = None
    messages: list[Message] | None = None
    ignore_eos: bool = True
    input_tokens: int = -1  # the requested prompt length (-1: from a dataset, unknown)


@dataclass(frozen=True)
class ModelInfo:
    """What a client learned about the target (from metadata routes), for payload builders."""

    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)
