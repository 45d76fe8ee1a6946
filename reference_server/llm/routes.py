"""The OpenAI routes (/v1) over the server's LLM versions.

A request names a model; the model's traffic split picks the version (as on /v2), whose
ServedLlm applies faults and metrics, and `x-model-version` names the version that answered.
The dispatcher (app.py) has already applied auth and the body-size limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from reference_server.backends.generative import GenerativeBackend
from reference_server.errors import RequestError
from reference_server.extensions import register_routes
from reference_server.llm.served import ServedLlm
from reference_server.openai_api import ApiError, openai_routes
from reference_server.routing import resolve

if TYPE_CHECKING:
    from reference_server.state import ServerState


@register_routes("openai")
def llm_routes(state: ServerState) -> list[BaseRoute]:
    manager = state.manager

    def resolve(name: str) -> GenerativeBackend | None:
        try:
            loaded = resolve(manager, name, None)
        except RequestError as exc:  # unknown model (404), nothing loaded (503)
            raise ApiError(exc.status, exc.error, exc.field) from None
        generative = loaded.generative
        return None if generative is None else ServedLlm(loaded, generative, state)

    def models() -> list[str]:
        return [name for name, entry in manager.models.items()
                if (latest := entry.latest()) is not None and latest.generative is not None]

    def decorate(request: Request, backend: GenerativeBackend, response: Response) -> None:
        assert isinstance(backend, ServedLlm)
        response.headers["x-model-version"] = backend.version

    return list(openai_routes(resolve, models, decorate))
