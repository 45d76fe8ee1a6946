"""Route extensions: fronts that serve their own API (e.g. the OpenAI-style /v1 for LLMs).

A module registers a named factory at import time:

    from reference_server.extensions import register_routes

    @register_routes("openai")
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

from slogate_common.registry import Registry

if TYPE_CHECKING:
    from .state import ServerState

RouteFactory = Callable[["ServerState"], list[BaseRoute]]
PREFIX = "/v1"
ROUTE_EXTENSIONS: Registry[RouteFactory] = Registry("route extension", builtins="reference_server.fronts.openai")


def register_routes(name: str) -> Callable[[RouteFactory], RouteFactory]:
    return ROUTE_EXTENSIONS.register(name)


def extension_routes(state: ServerState) -> list[BaseRoute]:
    return [route for entry in ROUTE_EXTENSIONS.entries() for route in entry.value(state)]
