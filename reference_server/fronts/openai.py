"""The OpenAI front: /v1 completions, chat completions and models over the server's LLM versions.

openai_api.py validates the body, then asks `resolve` for the model: its traffic split
picks the version (as on /v2), whose backend is wrapped per request in a GuardedLlm. The
Guard (guard.py) admits the request when generation starts, applies the stream's faults
and records its latency until the reply's last chunk; openai_api.py shapes the reply, and
`x-model-version` names the version that answered. The dispatcher (app.py) has already
applied auth and the body-size limit.

A stream's own series (metrics.py), besides the guard's:

- slogate_llm_time_to_first_token_seconds{model,version}: until the first chunk, faults included;
- slogate_llm_prompt_tokens_total / slogate_llm_output_tokens_total{model,version}: output
  tokens as they stream, so a cut or abandoned stream counts what it generated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..backends.generative import GenerationChunk, GenerationRequest, GenerativeBackend
from ..extensions import register_routes
from ..guard import Guard
from ..openai_api import RouteBackend, openai_routes
from ..routing import resolve

if TYPE_CHECKING:
    from ..model_manager import LoadedVersion
    from ..state import ServerState


@register_routes("openai")
def openai_front(state: ServerState) -> list[BaseRoute]:
    manager = state.manager

    def guarded(name: str) -> RouteBackend | None:
        loaded = resolve(manager, name, None)  # unknown model: 404; nothing loaded: 503
        generative = loaded.generative
        return None if generative is None else GuardedLlm(loaded, generative, state)

    def models() -> list[str]:
        return [name for name, entry in manager.models.items()
                if (latest := entry.latest()) is not None and latest.generative is not None]

    def decorate(request: Request, backend: RouteBackend, response: Response) -> None:
        assert isinstance(backend, GuardedLlm)
        response.headers["x-model-version"] = backend.version

    return list(openai_routes(guarded, models, decorate))


@dataclass
class GuardedLlm:
    """One LLM version as the OpenAI routes see it for one request: generate() runs guarded.
    The engine's lifecycle is the version's host's (load, unload), not this wrapper's."""

    loaded: LoadedVersion
    inner: GenerativeBackend
    state: ServerState

    @property
    def max_model_len(self) -> int:
        return self.inner.max_model_len

    @property
    def version(self) -> str:
        return self.loaded.version

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        loaded = self.loaded
        series = self.state.metrics.llm_series(loaded.model, loaded.version)
        async with Guard(self.state, loaded.model) as guard:
            guard.admit(loaded)
            await guard.before_stream(req.max_tokens)
            sent = 0
            async with aclosing(self.inner.generate(req)) as chunks:
                async for chunk in chunks:
                    if sent == 0:
                        series.ttft.observe(guard.elapsed())
                        series.prompt_tokens.inc(chunk.prompt_tokens)
                    series.output_tokens.inc(chunk.token_ids_count)
                    yield chunk
                    sent += 1
                    await guard.after_chunk(sent)
