"""The ASGI application: dispatch, auth, body limits and lifespan.

/v2 (health, metadata, infer, drift: fronts/oip.py), /metrics and /openapi.json (openapi.py) are raw ASGI: one path split and
a match, no framework objects per request (FastAPI costs ~270 µs/request here, raw ASGI
~120 µs). /admin is Starlette; /v1 is whatever route extensions registered (extensions.py;
the OpenAI front, fronts/openai.py, is the built-in one). The dispatcher applies auth and
the body-size limit to every route before handing off.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from starlette.applications import Starlette

from . import features
from .admin import build_admin_app
from .asgi import (
    ASGIApp,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    client_gone,
    header,
    read_body,
    replay,
    send_bytes,
    send_error,
    send_json,
)
from .auth import Authenticator, NonceStore, read_secrets
from .auth import Scope as AuthScope
from .binary_data import HEADER as BINARY_HEADER
from .config import CONFIG_ENV, ServerConfig, configure_logging
from .drift import drift_reports
from .errors import RequestError
from .extensions import PREFIX as EXTENSION_PREFIX
from .extensions import extension_routes
from .faults import FaultTable, StreamCut
from .fronts.oip import SERVER_VERSION, OipFront
from .fronts.repository import RepositoryFront
from .grpc_listener import GrpcBindError, start_grpc
from .json_errors import json_error_handlers
from .metrics import Metrics
from .model_manager import ModelManager
from .openapi import openapi_document
from .placement import Placement
from .state import ServerState
from .worker_metrics import WorkerExpositions
from .worker_nonces import SharedNonces
from .worker_sync import WorkerSync
from .workers_dir import SHARED_DIR_ENV

log = logging.getLogger("reference_server")


class ReferenceApp:
    def __init__(self, state: ServerState, workers_dir: Path | None = None) -> None:
        """`workers_dir`: one of --workers N processes, sharing admin changes and /metrics through it."""
        self.state = state
        self._sync: WorkerSync | None = None
        self._expositions: WorkerExpositions | None = None
        if workers_dir is not None:
            self._sync = state.changes = WorkerSync(state, workers_dir)
            self._expositions = WorkerExpositions(workers_dir, self.local_exposition)
        self.oip = OipFront(state)
        self.repository = RepositoryFront(state)
        self.admin: Starlette = build_admin_app(state)
        routes = extension_routes(state)
        self.extensions: Starlette | None = (
            Starlette(routes=routes, exception_handlers=json_error_handlers()) if routes else None)
        self._loader: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._grpc: grpc.aio.Server | None = None  # --grpc-port
        # What /metrics answers: this process's series, or every worker's (--workers) or replica's (--engine ray)
        self.exposition: Callable[[], Awaitable[bytes]] = (
            self.local_exposition if self._expositions is None else self._expositions.scrape)

    def begin_drain(self) -> None:
        """SIGTERM: readiness answers 503 from now on; the server stops accepting and drains."""
        if not self.state.draining:
            self.state.draining = True
            log.info("SIGTERM: draining (readiness 503, in-flight requests finish within %.1f s)",
                     self.state.config.drain_timeout_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await self._http(scope, receive, send)
            except RequestError as e:
                await send_error(send, e)
            except ClientDisconnected:
                pass
            except StreamCut:
                pass  # an injected truncation: uvicorn closes the unfinished response's connection
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    # --- dispatch -----------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith("/v2"):
            await self._v2(scope, receive, send, path.split("/")[2:])
        elif path == "/metrics":
            await self._authorize(AuthScope.METRICS, scope, receive)
            metrics = await self.exposition()
            await send_bytes(send, 200, metrics, [(b"content-type", Metrics.content_type.encode())])
        elif path == "/openapi.json":
            _require(scope["method"], "GET")
            await self._authorize(AuthScope.API, scope, receive)
            await send_json(send, 200, openapi_document(self, SERVER_VERSION))
        elif path.startswith("/admin"):
            await self._delegate(self.admin, AuthScope.ADMIN, scope, receive, send)
        elif path.startswith(EXTENSION_PREFIX) and self.extensions is not None:
            if not self.state.loaded:  # /v1/models is the OpenAI readiness probe: no listing before warm
                raise RequestError(503, "loading models", None, headers={"retry-after": "1"})
            await self._delegate(self.extensions, AuthScope.API, scope, receive, send)
        else:
            raise _not_found()

    async def local_exposition(self) -> bytes:
        """This process's metrics."""
        models = self.state.manager.models
        return self.state.metrics.render(models, await drift_reports(models))

    async def _delegate(self, app: ASGIApp, auth: AuthScope, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._authorize(auth, scope, receive)
        if body is None and scope["method"] in ("POST", "PUT", "PATCH"):
            body = await read_body(scope, receive, self.state.config.max_body_bytes)
        await app(scope, receive if body is None else replay(body, receive), send)

    async def _authorize(self, auth: AuthScope, scope: Scope, receive: Receive) -> bytes | None:
        """Check credentials; returns the body when checking needed it (HMAC), else None."""
        checker = self.state.auth
        if not checker.requires_check(auth):
            return None
        body = b""
        if checker.needs_body:
            body = await read_body(scope, receive, self.state.config.max_body_bytes)
        query = scope.get("query_string", b"")
        path = scope["path"] + ("?" + query.decode("latin-1") if query else "")
        checker.check(auth, dict(scope["headers"]), scope["method"], path, body)
        return body if checker.needs_body else None

    async def _authorized_body(self, auth: AuthScope, scope: Scope, receive: Receive) -> bytes:
        """Check credentials, then the whole body within the size limit (read once for both)."""
        body = await self._authorize(auth, scope, receive)
        return body if body is not None else await read_body(scope, receive, self.state.config.max_body_bytes)

    async def _v2(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
        method = scope["method"]
        match parts:
            case ["models", model, "infer"] | ["models", model, "versions", _, "infer"]:
                version = parts[3] if len(parts) == 5 else None
                _require(method, "POST")
                body = await self._authorized_body(AuthScope.API, scope, receive)
                await self.oip.infer(send, model, version, body, header(scope, BINARY_HEADER), client_gone(receive))
                return
            case ["repository", "index"]:
                _require(method, "POST")
                body = await self._authorized_body(AuthScope.API, scope, receive)
                await send_json(send, 200, self.repository.index(body))
                return
            case ["repository", "models", model, "load" | "unload" as action]:
                _require(method, "POST")
                body = await self._authorized_body(AuthScope.ADMIN, scope, receive)
                change = self.repository.load if action == "load" else self.repository.unload
                await send_json(send, 200, await change(model, body))
                return
            case ["health", "live"]:
                _require(method, "GET")
                await self._authorize(AuthScope.HEALTH, scope, receive)
                await send_json(send, 200, {"live": True})
                return
            case ["health", "ready"]:
                _require(method, "GET")
                await self._authorize(AuthScope.HEALTH, scope, receive)
                await self.oip.server_ready(send)
                return
            case ["models", model, "ready"] | ["models", model, "versions", _, "ready"]:
                _require(method, "GET")
                await self._authorize(AuthScope.HEALTH, scope, receive)
                await self.oip.model_ready(send, model, parts[3] if len(parts) == 5 else None)
                return
            case ["models", model, "drift"] | ["models", model, "versions", _, "drift"]:
                _require(method, "GET")
                await self._authorize(AuthScope.API, scope, receive)
                await send_json(send, 200, await self.oip.drift(model, parts[3] if len(parts) == 5 else None))
                return
            case ["models", model] | ["models", model, "versions", _]:
                _require(method, "GET")
                await self._authorize(AuthScope.API, scope, receive)
                await send_json(send, 200, self.oip.model_metadata(model, parts[3] if len(parts) == 4 else None))
                return
            case [] | [""]:
                _require(method, "GET")
                await self._authorize(AuthScope.API, scope, receive)
                await send_json(send, 200, self.oip.server_metadata())
                return
        raise _not_found()

    # --- lifespan -----------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.state.config.grpc_port is not None:
                    try:
                        self._grpc = await start_grpc(self.state, self.oip)
                    except GrpcBindError as exc:
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                if self._expositions is not None:
                    await self._expositions.start()
                # Load in the background: live answers at once, ready once everything is warm.
                self._loader = asyncio.get_running_loop().create_task(self._load_models())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._grpc is not None:  # HTTP has drained; calls in flight get the same grace
                    await self._grpc.stop(self.state.config.drain_timeout_s)
                for task in (self._loader, self._reaper):
                    if task is not None:
                        task.cancel()
                        await asyncio.gather(task, return_exceptions=True)
                if self._sync is not None:
                    await self._sync.close()
                if self._expositions is not None:
                    await self._expositions.close()
                await self.state.manager.close()
                await features.close(self.state.manager.feature_store)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _load_models(self) -> None:
        state = self.state
        await state.manager.load_all(state.config.models)
        # torch leaves ~180k long-lived objects; a full GC pass over them took ~90 ms here and
        # was the whole p99 at high load. Freezing moves them out of the collector's sight.
        gc.collect()
        gc.freeze()
        if self._sync is not None:  # the admin changes made before this worker was up, then those to come
            await self._sync.start()
        state.loaded = True
        self._reaper = asyncio.get_running_loop().create_task(state.scaler.reap_idle())
        served = {m: list(e.versions) for m, e in state.manager.models.items()}
        cfg = state.config
        grpc_at = "" if cfg.grpc_port is None else f" and grpc://{cfg.host}:{cfg.grpc_port}"
        scheme = "http" if cfg.tls_cert is None else "https"
        log.info("slogate reference server ready on %s://%s:%d%s serving %s", scheme, cfg.host, cfg.port, grpc_at,
                 json.dumps(served))


def _not_found() -> RequestError:
    return RequestError(404, "no such route", None)


def _require(method: str, allowed: str) -> None:
    if method != allowed:
        raise RequestError(405, f"use {allowed}", None, headers={"allow": allowed})


def create_app(config: ServerConfig, workers_dir: Path | None = None, nonces: NonceStore | None = None) -> ReferenceApp:
    """The app for a resolved config (model_repo set: the demo repository is built by then). One of
    --workers N is given their directory; a Ray replica the nonces it shares with the others."""
    if config.model_repo is None:
        raise ValueError("create_app needs a model repository; __main__ builds the demo one")
    placement = Placement(config.device, config.torch_threads)
    metrics = Metrics()
    auth = Authenticator(
        api_keys=read_secrets(config.api_keys_file) if config.api_keys_file else None,
        admin_token=read_secrets(config.admin_token_file)[0] if config.admin_token_file else None,
        hmac_secret=read_secrets(config.hmac_secret_file)[0] if config.hmac_secret_file else None,
        protect_health=config.protect_health,
        protect_metrics=config.protect_metrics,
        nonces=SharedNonces(workers_dir) if workers_dir is not None else nonces,
    )
    faults = FaultTable()
    manager = ModelManager(config.model_repo, placement, metrics, config.drain_timeout_s, faults.load_delay_s,
                           config.verify_artifacts, features.connect(config.feature_store))
    return ReferenceApp(ServerState(config, placement, metrics, manager, faults, auth), workers_dir)


def app_from_env() -> ReferenceApp:
    """uvicorn factory for --workers > 1: each worker process rebuilds the app from the config."""
    config = ServerConfig.from_json(os.environ[CONFIG_ENV])
    configure_logging(config.log_level)
    return create_app(config, Path(os.environ[SHARED_DIR_ENV]))
