"""Route extensions: backends that serve their own API (e.g. OpenAI-style /v1 for LLMs).

A module registers a factory at import time:

    from reference_server.extensions import register_routes

    @register_routes
    def openai_routes(state: ServerState) -> list[BaseRoute]:
        return [Route("/v1/completions", completions, methods=["POST"]), ...]

The server mounts every factory's routes under one Starlette router for paths starting
with /v1. The dispatcher has already applied API-key/HMAC auth and the body-size limit;
handlers reach models through `state.manager` and faults through `state.faults`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from .state import ServerState

RouteFactory = Callable[["ServerState"], list[BaseRoute]]
_FACTORIES: list[RouteFactory] = []
PREFIX = "/v1"


def register_routes(factory: RouteFactory) -> RouteFactory:
    _FACTORIES.append(factory)
    return factory


def extension_routes(state: ServerState) -> list[BaseRoute]:
    return [route for factory in _FACTORIES for route in factory(state)]
