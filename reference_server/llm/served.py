"""One LLM version as the OpenAI routes see it: faults and metrics around `generate()`.

The routes get a ServedLlm per request (resolve picks the version by the traffic split).
It counts the request in flight, so unload and SIGTERM wait for its stream, and records:

- slogate_request_latency_seconds{model,version,status_class}: until the reply's last chunk;
- slogate_llm_time_to_first_token_seconds{model,version}: until the first chunk, faults included;
- slogate_llm_prompt_tokens_total / slogate_llm_output_tokens_total{model,version}: output
  tokens as they stream, so a cut or abandoned stream counts what it generated.

LLM faults (POST /admin/faults, faults.py):

- latency: sleeps before generation starts, so it delays the first token;
- error: answers `status` before streaming starts (a clean HTTP error the client can see
  at once; an engine failing mid-stream shows as an SSE error event instead, see openai_api.py);
- stall: pauses after the first chunk, holding the rest of the reply (the engine keeps
  generating meanwhile, so the next chunk may carry several tokens, as after a network stall);
- truncate: closes the connection after N chunks, without [DONE] (StreamCut below). A
  non-streaming request is cut before any response, which uvicorn answers with a bare 500.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference_server.backends.generative import (
    GenerationChunk,
    GenerationRequest,
    GenerativeBackend,
    InvalidGeneration,
    Message,
)
from reference_server.faults import NO_FAULTS, Effects, StreamCut, hold_stalls
from reference_server.openai_api import ApiError

if TYPE_CHECKING:
    from reference_server.model_manager import LoadedVersion
    from reference_server.state import ServerState

@dataclass
class ServedLlm:
    loaded: LoadedVersion
    inner: GenerativeBackend
    state: ServerState

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def max_model_len(self) -> int:
        return self.inner.max_model_len

    @property
    def version(self) -> str:
        return self.loaded.version

    def apply_chat_template(self, messages: list[Message]) -> str:
        return self.inner.apply_chat_template(messages)

    async def start(self) -> None:
        """Nothing: the engine's lifecycle belongs to the version's host (load/unload)."""

    async def shutdown(self) -> None:
        """Nothing: see start()."""

    async def generate(self, req: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        started = time.perf_counter()
        loaded, metrics = self.loaded, self.state.metrics
        series = metrics.llm_series(loaded.model, loaded.version)
        effects = self.state.faults.roll(loaded.model, loaded.version) if self.state.faults else NO_FAULTS
        cut_after = effects.cut_after(req.max_tokens)
        status, sent = 200, 0
        loaded.acquire()
        try:
            await self._before_first_token(effects)
            async with aclosing(self.inner.generate(req)) as chunks:
                async for chunk in chunks:
                    if sent == 0:
                        series.ttft.observe(time.perf_counter() - started)
                        series.prompt_tokens.inc(chunk.prompt_tokens)
                    series.output_tokens.inc(chunk.token_ids_count)
                    yield chunk
                    sent += 1
                    if sent == 1 and effects.stalls:
                        await hold_stalls(effects)
                    if sent == cut_after:
                        self._count("injected")
                        raise StreamCut
        except InvalidGeneration:
            status = 400
            raise
        except ApiError as exc:
            status = exc.status
            raise
        except Exception:
            status = 500 if sent == 0 else 200  # mid-stream the client already has its 200
            self._count("model")
            raise
        finally:
            loaded.release()
            metrics.latency_child(loaded.model, loaded.version, status).observe(time.perf_counter() - started)

    async def _before_first_token(self, effects: Effects) -> None:
        if effects.delay_s:
            await asyncio.sleep(effects.delay_s)
        if effects.error_status is not None:
            self._count("injected")
            raise ApiError(effects.error_status, "injected fault")

    def _count(self, kind: str) -> None:
        self.state.metrics.inference_errors.labels(self.loaded.model, self.loaded.version, kind).inc()
