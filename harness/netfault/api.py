"""The control API: the part of Toxiproxy's HTTP API an experiment needs, with its routes,
status codes and JSON shapes, on aiohttp.web.

    GET    /version                          {"version": ...}
    GET    /proxies                          {name: proxy, ...}
    POST   /proxies                          {name, listen, upstream, enabled} → 201, the proxy
    GET    /proxies/{proxy}                  the proxy
    DELETE /proxies/{proxy}                  204
    GET    /proxies/{proxy}/toxics           [toxic, ...]
    POST   /proxies/{proxy}/toxics           {name, type, stream, toxicity, attributes} → the toxic
    GET    /proxies/{proxy}/toxics/{toxic}   the toxic
    DELETE /proxies/{proxy}/toxics/{toxic}   204
    POST   /reset                            204: every toxic removed, every proxy enabled
    GET    /proxies/{proxy}/stats            ours, not Toxiproxy's: connections, bytes, resets

A proxy is {name, listen, upstream, enabled, toxics}, `listen` being the address actually
bound; a toxic is {name, type, stream, toxicity, attributes}; an error is {error, status}:
400 for bad input (the message names the field), 404 for an unknown name, 409 for a name or
a listen port that is taken (Toxiproxy answers 500 for the port; both say "address already
in use").
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.netfault.proxy import Conflict, Proxy, parse_address
from harness.netfault.toxics import ToxicError, describe, parse_toxic

VERSION = "slogate-netfault/1"
PROXIES = web.AppKey("proxies", dict[str, Proxy])
RNG = web.AppKey("rng", random.Random)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ProxySpec(BaseModel):
    """The body of POST /proxies; unknown fields are ignored, as Toxiproxy does."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    listen: str = "127.0.0.1:0"
    upstream: str = Field(min_length=1)
    enabled: bool = True

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_address(value)
        return value

    @field_validator("upstream")
    @classmethod
    def _upstream(cls, value: str) -> str:
        if parse_address(value)[1] == 0:
            raise ValueError("the upstream port cannot be 0")
        return value


def make_app(seed: int | None = None) -> web.Application:
    """The control API over an empty set of proxies; cleaning the app up stops them all."""
    app = web.Application(middlewares=[_errors])
    app[PROXIES] = {}
    app[RNG] = random.Random(seed)
    app.router.add_get("/version", version)
    app.router.add_post("/reset", reset)
    app.router.add_get("/proxies", list_proxies)
    app.router.add_post("/proxies", create_proxy)
    app.router.add_get("/proxies/{proxy}", show_proxy)
    app.router.add_delete("/proxies/{proxy}", delete_proxy)
    app.router.add_get("/proxies/{proxy}/stats", proxy_stats)
    app.router.add_get("/proxies/{proxy}/toxics", list_toxics)
    app.router.add_post("/proxies/{proxy}/toxics", create_toxic)
    app.router.add_get("/proxies/{proxy}/toxics/{toxic}", show_toxic)
    app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", delete_toxic)
    app.on_cleanup.append(_stop_all)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response({"error": exc.message, "status": exc.status}, status=exc.status)


async def _stop_all(app: web.Application) -> None:
    for proxy in app[PROXIES].values():
        await proxy.stop()


async def _body(request: web.Request) -> dict:
    try:
        data = await request.json()
    except ValueError as exc:
        raise ApiError(400, f"bad request body: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad request body: not a JSON object")
    return data


def _proxy(request: web.Request) -> Proxy:
    proxy = request.app[PROXIES].get(request.match_info["proxy"])
    if proxy is None:
        raise ApiError(404, "proxy not found")
    return proxy


async def _start(proxy: Proxy) -> None:
    try:
        await proxy.start()
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None
    except OSError as exc:
        raise ApiError(500, f"listen {proxy.listen}: {exc.strerror or exc}") from None


def _no_content() -> web.Response:
    return web.Response(status=204)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": VERSION})


async def reset(request: web.Request) -> web.Response:
    for proxy in request.app[PROXIES].values():
        await _start(proxy)
        for name in list(proxy.toxics):
            proxy.remove_toxic(name)
    return _no_content()


async def list_proxies(request: web.Request) -> web.Response:
    return web.json_response({name: proxy.to_api() for name, proxy in request.app[PROXIES].items()})


async def create_proxy(request: web.Request) -> web.Response:
    try:
        spec = ProxySpec.model_validate(await _body(request))
    except ValidationError as exc:
        raise ApiError(400, f"bad proxy: {describe(exc)}") from None
    proxies = request.app[PROXIES]
    if spec.name in proxies:
        raise ApiError(409, "proxy already exists")
    proxy = proxies[spec.name] = Proxy(spec.name, spec.listen, spec.upstream, rng=request.app[RNG])
    try:
        if spec.enabled:
            await _start(proxy)
    except ApiError:
        del proxies[spec.name]
        raise
    return web.json_response(proxy.to_api(), status=201)


async def show_proxy(request: web.Request) -> web.Response:
    return web.json_response(_proxy(request).to_api())


async def delete_proxy(request: web.Request) -> web.Response:
    proxy = _proxy(request)
    del request.app[PROXIES][proxy.name]
    await proxy.stop()
    return _no_content()


async def proxy_stats(request: web.Request) -> web.Response:
    return web.json_response(_proxy(request).stats())


async def list_toxics(request: web.Request) -> web.Response:
    return web.json_response([toxic.to_api() for toxic in _proxy(request).toxics.values()])


async def create_toxic(request: web.Request) -> web.Response:
    proxy = _proxy(request)
    try:
        toxic = parse_toxic(await _body(request))
    except ToxicError as exc:
        raise ApiError(400, f"bad toxic: {exc}") from None
    try:
        proxy.add_toxic(toxic)
    except Conflict:
        raise ApiError(409, "toxic already exists") from None
    return web.json_response(toxic.to_api())


async def show_toxic(request: web.Request) -> web.Response:
    toxic = _proxy(request).toxics.get(request.match_info["toxic"])
    if toxic is None:
        raise ApiError(404, "toxic not found")
    return web.json_response(toxic.to_api())


async def delete_toxic(request: web.Request) -> web.Response:
    if _proxy(request).remove_toxic(request.match_info["toxic"]) is None:
        raise ApiError(404, "toxic not found")
    return _no_content()
