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

from ..backends.generative import (
    GenerationChunk,
    GenerationRequest,
    configured_max_model_len,
    registered_generative_backends,
)
from ..errors import RequestError
from ..extensions import register_routes
from ..guard import Guard
from ..openai_api import RouteBackend, openai_routes
from ..repository import ModelSpec
from ..routing import pick, resolve_waking
from .headers import version_headers

if TYPE_CHECKING:
    from ..state import ServerState


@register_routes("openai")
def openai_front(state: ServerState) -> list[BaseRoute]:
    manager = state.manager

    def guarded(name: str) -> RouteBackend | None:
        entry = manager.entry(name)  # unknown model: 404
        version = pick(manager, name, None)  # nothing routable: 503
        spec = entry.spec_of(version)
        return None if spec is None or not is_generative(spec) else GuardedLlm(state, name, version, spec)

    def models() -> list[str]:
        return [name for name, entry in manager.models.items()
                if any(is_generative(spec) for version in entry.routable()
                       if (spec := entry.spec_of(version)) is not None)]

    def decorate(request: Request, backend: RouteBackend, response: Response) -> None:
        assert isinstance(backend, GuardedLlm)
        for name, value in version_headers(backend.version, backend.waited_s):
            response.headers[name.decode("latin-1")] = value.decode("latin-1")

    return list(openai_routes(guarded, models, decorate))


def is_generative(spec: ModelSpec) -> bool:
    return spec.backend in registered_generative_backends()


@dataclass
class GuardedLlm:
    """One LLM version as the OpenAI routes see it for one request: generate() runs guarded.
    A version scaled to zero is loaded when generation starts, so the request waits for it
    (`waited_s`, answered in x-cold-start) as a tensor request does. The engine's lifecycle
    is the version's host's (load, unload), not this wrapper's."""

    state: ServerState
    model: str
    version: str
    spec: ModelSpec
    waited_s: float = 0.0

    @property
    def max_model_len(self) -> int:
        loaded = self.state.manager.entry(self.model).versions.get(self.version)
        if loaded is not None and loaded.generative is not None:
            return loaded.generative.max_model_len
        return configured_max_model_len(self.spec.section("llm"))  # scaled to zero: what it will load with

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        async with Guard(self.state, self.model) as guard:
            loaded, self.waited_s = await resolve_waking(self.state.scaler, self.model, self.version)
            generative = loaded.generative
            if generative is None:  # the version was replaced by a non-LLM one between pick and load
                raise RequestError(404, f"{self.model}/{self.version} is not an LLM", "model")
            series = self.state.metrics.llm_series(loaded.model, loaded.version)
            guard.admit(loaded)
            await guard.before_stream(req.max_tokens)
            sent = 0
            async with aclosing(generative.generate(req)) as chunks:
                async for chunk in chunks:
                    if sent == 0:
                        series.ttft.observe(guard.elapsed())
                        series.prompt_tokens.inc(chunk.prompt_tokens)
                    series.output_tokens.inc(chunk.token_ids_count)
                    yield chunk
                    sent += 1
                    await guard.after_chunk(sent)
