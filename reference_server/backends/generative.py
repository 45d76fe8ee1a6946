"""The generative-backend seam: request/chunk dataclasses, a small Protocol and a registry
(whose built-ins, backends/builtin.py, it imports on the first lookup).

Every LLM backend (vLLM in-process, plain transformers) streams `GenerationChunk`s for a
`GenerationRequest`; the OpenAI routes, metrics and fault wrappers only see this Protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slogate_common.registry import Registry, UnknownEntry

from ..errors import RequestError

Message = dict[str, str]  # {"role": ..., "content": ...}
DEFAULT_MAX_MODEL_LEN = 512  # model.json's llm.max_model_len when it names none


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. Exactly one of `prompt` / `messages` is set."""

    request_id: str
    prompt: str | None = None
    messages: list[Message] | None = None
    max_tokens: int | None = None  # None: up to the context length
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False


@dataclass(frozen=True)
class GenerationChunk:
    """A streamed delta. Token counts are cumulative; `finish_reason` is set on the last."""

    text: str
    token_ids_count: int  # new tokens in this chunk
    prompt_tokens: int
    output_tokens: int
    finish_reason: str | None = None  # "stop" | "length" | "abort"


class InvalidGeneration(RequestError):
    """A request the backend cannot serve as asked (e.g. prompt longer than the context): a 400."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(400, message, field)


class GenerativeBackend(Protocol):
    model_name: str
    max_model_len: int
    device: str  # "cpu" or "cuda": where it generates, once started

    async def start(self) -> None: ...

    def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Stream chunks; closing the iterator early aborts the generation."""
        ...

    async def shutdown(self) -> None: ...

    def apply_chat_template(self, messages: list[Message]) -> str: ...


def prompt_text(backend: GenerativeBackend, req: GenerationRequest) -> str:
    """The text a request asks to continue: the prompt, or the rendered chat."""
    if req.prompt is not None:
        return req.prompt
    return backend.apply_chat_template(req.messages or [])


def output_budget(req: GenerationRequest, prompt_tokens: int, max_model_len: int) -> int:
    """How many tokens to generate: max_tokens, or the rest of the context when unset."""
    room = max_model_len - prompt_tokens
    max_tokens = room if req.max_tokens is None else req.max_tokens
    if max_tokens > room or room < 1:
        raise InvalidGeneration(
            f"prompt ({prompt_tokens} tokens) + max_tokens ({max_tokens}) exceeds the context ({max_model_len})",
            "max_tokens",
        )
    return max_tokens


def render_chat(tokenizer: Any, messages: list[Message]) -> str:
    """Render with the model's own chat template (tokenizer_config.json), ready for a reply."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


BackendFactory = Callable[[str, Path, dict[str, Any]], GenerativeBackend]
GENERATIVE_BACKENDS: Registry[BackendFactory] = Registry(
    "generative backend", builtins="reference_server.backends.builtin"
)


def register_generative_backend(kind: str) -> Callable[[BackendFactory], BackendFactory]:
    return GENERATIVE_BACKENDS.register(kind)


def make_generative_backend(
    kind: str, model_dir: Path | str, options: dict[str, Any] | None = None, *, name: str = ""
) -> GenerativeBackend:
    """Construct (not start) a backend. `name` is the served model name (default: dir name)."""
    try:
        factory = GENERATIVE_BACKENDS.get(kind)
    except UnknownEntry as e:
        raise ValueError(str(e)) from None
    path = Path(model_dir)
    return factory(name or path.name, path, dict(options or {}))


def configured_max_model_len(options: dict[str, Any]) -> int:
    """The context length a version's `llm` options ask for."""
    return int(options.get("max_model_len", DEFAULT_MAX_MODEL_LEN))


def registered_generative_backends() -> list[str]:
    return GENERATIVE_BACKENDS.names()
