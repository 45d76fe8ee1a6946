"""The ASGI application.

/v2 (health, metadata, infer) and /metrics are raw ASGI: one path split and a match, no
framework objects per request (FastAPI costs ~270 µs/request here, raw ASGI ~120 µs).
/admin is Starlette; /v1 is whatever route extensions registered (extensions.py).
The dispatcher applies auth and the body-size limit to every route before handing off.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import os
import time
from typing import Any

import numpy as np
import orjson
import torch
from starlette.routing import Router

from .admin import build_admin_app
from .asgi import (
    JSON_HEADERS,
    ASGIApp,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    replay,
    send_bytes,
    send_error,
    send_json,
)
from .auth import Authenticator, read_secrets
from .auth import Scope as AuthScope
from .backends.base import Outputs
from .config import CONFIG_ENV, ServerConfig, configure_logging, resolve_device
from .errors import RequestError
from .extensions import PREFIX as EXTENSION_PREFIX
from .extensions import extension_routes
from .faults import FaultTable, apply_delays
from .llm.served import StreamCut
from .metrics import Metrics
from .model_manager import LoadedVersion, ModelManager
from .state import ServerState
from .validation import oip_inputs, parse_body

log = logging.getLogger("reference_server")

SERVER_NAME = "slogate-reference"
SERVER_VERSION = "0.1.0"
DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.float16): "FP16",
             np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32", np.dtype(np.bool_): "BOOL"}
PLATFORMS = {"torch": "pytorch_libtorch", "torchscript": "pytorch_libtorch"}


class ReferenceApp:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.admin: ASGIApp = build_admin_app(state)
        routes = extension_routes(state)
        self.extensions: ASGIApp | None = Router(routes=routes) if routes else None
        self._ids = itertools.count(1)
        self._loader: asyncio.Task[None] | None = None

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
            await send_bytes(send, 200, self._render_metrics(), [(b"content-type", Metrics.content_type.encode())])
        elif path.startswith("/admin"):
            await self._delegate(self.admin, AuthScope.ADMIN, scope, receive, send)
        elif path.startswith(EXTENSION_PREFIX) and self.extensions is not None:
            if not self.state.loaded:  # /v1/models is the OpenAI readiness probe: no listing before warm
                raise RequestError(503, "loading models", None, headers={"retry-after": "1"})
            await self._delegate(self.extensions, AuthScope.API, scope, receive, send)
        else:
            raise _not_found()

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

    async def _v2(self, scope: Scope, receive: Receive, send: Send, parts: list[str]) -> None:
        method = scope["method"]
        match parts:
            case ["models", model, "infer"] | ["models", model, "versions", _, "infer"]:
                version = parts[3] if len(parts) == 5 else None
                _require(method, "POST")
                body = await self._authorize(AuthScope.API, scope, receive)
                if body is None:
                    body = await read_body(scope, receive, self.state.config.max_body_bytes)
                await self._infer(send, model, version, body)
                return
            case ["health", "live"]:
                _require(method, "GET")
                await self._authorize(AuthScope.HEALTH, scope, receive)
                await send_json(send, 200, {"live": True})
                return
            case ["health", "ready"]:
                _require(method, "GET")
                await self._authorize(AuthScope.HEALTH, scope, receive)
                await self._server_ready(send)
                return
            case ["models", model, "ready"] | ["models", model, "versions", _, "ready"]:
                _require(method, "GET")
                await self._authorize(AuthScope.HEALTH, scope, receive)
                await self._model_ready(send, model, parts[3] if len(parts) == 5 else None)
                return
            case ["models", model] | ["models", model, "versions", _]:
                _require(method, "GET")
                await self._authorize(AuthScope.API, scope, receive)
                await send_json(send, 200, self._metadata(model, parts[3] if len(parts) == 4 else None))
                return
            case [] | [""]:
                _require(method, "GET")
                await self._authorize(AuthScope.API, scope, receive)
                await send_json(send, 200, {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []})
                return
        raise _not_found()

    # --- inference (the hot path) -------------------------------------------------------------

    async def _infer(self, send: Send, model: str, version: str | None, raw: bytes) -> None:
        started = time.perf_counter()
        state = self.state
        loaded: LoadedVersion | None = None
        try:
            body = parse_body(raw)
            inputs = oip_inputs(body)
            loaded = state.manager.resolve(model, version)
            loaded.acquire()
            try:
                rows = loaded.rows_for(inputs)
                nan = await self._apply_faults(loaded) if state.faults else False
                outputs = await loaded.run(body, rows)
            finally:
                loaded.release()
        except RequestError as e:
            if e.status == 429:
                self._count_failure(loaded, "rejected")
            self._observe(loaded, model, e.status, started)
            await send_error(send, e)
            return
        except Exception:  # a model failure: log the type, never the payload
            log.exception("inference failed for %s/%s", model, loaded.version if loaded else "?")
            self._count_failure(loaded, "model")
            self._observe(loaded, model, 500, started)
            await send_json(send, 500, {"error": "inference failed", "field": None})
            return
        payload = _response(loaded, body.get("id") or str(next(self._ids)), outputs, nan)
        await send_bytes(send, 200, payload, [*JSON_HEADERS, (b"x-model-version", loaded.version.encode())])
        latency = self._observe(loaded, model, 200, started)
        if loaded.cold:
            loaded.cold = False
            state.metrics.cold_start.labels(loaded.model, loaded.version).set(latency)

    async def _apply_faults(self, loaded: LoadedVersion) -> bool:
        """Fire matching faults; returns whether outputs must be NaN. An error fault raises."""
        effects = self.state.faults.roll(loaded.model, loaded.version)
        await apply_delays(effects)
        if effects.error_status is not None:
            self._count_failure(loaded, "injected")
            raise RequestError(effects.error_status, "injected fault", None)
        return effects.nan

    def _count_failure(self, loaded: LoadedVersion | None, kind: str) -> None:
        """429s count as rejections; model failures and injected errors as inference errors."""
        if loaded is None:
            return
        if kind == "rejected":
            self.state.metrics.rejected.labels(loaded.model, loaded.version).inc()
        else:
            self.state.metrics.inference_errors.labels(loaded.model, loaded.version, kind).inc()

    def _observe(self, loaded: LoadedVersion | None, model: str, status: int, started: float) -> float:
        latency = time.perf_counter() - started
        if loaded is not None:
            self.state.metrics.latency_child(loaded.model, loaded.version, status).observe(latency)
        elif model in self.state.manager.models:  # unknown names stay out of label sets
            self.state.metrics.latency_child(model, "", status).observe(latency)
        return latency

    # --- health and metadata ------------------------------------------------------------------

    async def _server_ready(self, send: Send) -> None:
        state = self.state
        if state.ready:
            await send_json(send, 200, {"ready": True})
        else:
            why = "draining" if state.draining else "loading models"
            await send_json(send, 503, {"ready": False, "error": why, "field": None})

    async def _model_ready(self, send: Send, model: str, version: str | None) -> None:
        try:
            loaded = self.state.manager.resolve(model, version)
        except RequestError as e:
            if e.status == 404 and e.field == "model":
                raise
            await send_json(send, 503, {"name": model, "ready": False, "error": e.error, "field": e.field})
            return
        await send_json(send, 200, {"name": model, "version": loaded.version, "ready": not self.state.draining})

    def _metadata(self, model: str, version: str | None) -> dict[str, Any]:
        entry = self.state.manager.entry(model)
        loaded = self.state.manager.resolve(model, version) if version is not None else entry.latest()
        if loaded is None:
            raise RequestError(404, f"no version of {model!r} is loaded", "model")
        spec = loaded.spec
        baseline = spec.baseline.model_dump(exclude_none=True) if spec.baseline else None
        return {
            "name": model,
            "versions": [loaded.version] if version is not None else list(entry.versions),
            "platform": PLATFORMS.get(spec.backend, spec.backend),
            "inputs": [{"name": t.name, "datatype": t.datatype, "shape": t.shape} for t in spec.inputs],
            "outputs": [{"name": t.name, "datatype": t.datatype, "shape": t.shape} for t in spec.outputs],
            "parameters": {
                "backend": spec.backend,
                "feature_names": spec.inputs[0].feature_names if spec.inputs else None,
                "baseline": baseline,
                "traffic": entry.split.weights(),
                "load_seconds": {v: lv.load_seconds for v, lv in entry.versions.items()},
            },
        }

    def _render_metrics(self) -> bytes:
        """Gauges that the hot path would otherwise update per request are sampled at scrape time."""
        metrics = self.state.metrics
        for model, entry in self.state.manager.models.items():
            metrics.in_flight_child(model).set(sum(lv.in_flight for lv in entry.versions.values()))
            for version, lv in entry.versions.items():
                metrics.queue_depth.labels(model, version).set(lv.queue_depth)
        return metrics.render()

    # --- lifespan -----------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Load in the background: live answers at once, ready once everything is warm.
                self._loader = asyncio.get_running_loop().create_task(self._load_models())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._loader is not None:
                    self._loader.cancel()
                    await asyncio.gather(self._loader, return_exceptions=True)
                await self.state.manager.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _load_models(self) -> None:
        state = self.state
        await state.manager.load_all(state.config.models)
        # torch leaves ~180k long-lived objects; a full GC pass over them took ~90 ms here and
        # was the whole p99 at high load. Freezing moves them out of the collector's sight.
        gc.collect()
        gc.freeze()
        state.loaded = True
        served = {m: list(e.versions) for m, e in state.manager.models.items()}
        cfg = state.config
        log.info("slogate reference server ready on http://%s:%d (device %s) serving %s",
                 cfg.host, cfg.port, state.device, json.dumps(served))


def _not_found() -> RequestError:
    return RequestError(404, "no such route", None)


def _require(method: str, allowed: str) -> None:
    if method != allowed:
        raise RequestError(405, f"use {allowed}", None, headers={"allow": allowed})


def _response(loaded: LoadedVersion, request_id: str, outputs: Outputs, nan: bool) -> bytes:
    tensors = [
        {"name": name, "datatype": DATATYPES.get(array.dtype, "FP32"), "shape": list(array.shape),
         "data": np.full(array.size, np.nan) if nan else np.ascontiguousarray(array).reshape(-1)}
        for name, array in outputs.items()
    ]
    response = {"model_name": loaded.model, "model_version": loaded.version, "id": request_id, "outputs": tensors}
    if nan:  # orjson would write null; NaN literals (as Triton writes them) keep the corruption silent
        for t in tensors:
            t["data"] = t["data"].tolist()
        return json.dumps(response).encode()
    return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)


def create_app(config: ServerConfig) -> ReferenceApp:
    """The app for a resolved config (model_repo set: the demo repository is built by then)."""
    if config.model_repo is None:
        raise ValueError("create_app needs a model repository; __main__ builds the demo one")
    torch.set_num_threads(config.torch_threads)
    device = resolve_device(config.device, torch.cuda.is_available())
    metrics = Metrics()
    auth = Authenticator(
        api_keys=read_secrets(config.api_keys_file) if config.api_keys_file else None,
        admin_token=read_secrets(config.admin_token_file)[0] if config.admin_token_file else None,
        hmac_secret=read_secrets(config.hmac_secret_file)[0] if config.hmac_secret_file else None,
        protect_health=config.protect_health,
        protect_metrics=config.protect_metrics,
    )
    manager = ModelManager(config.model_repo, device, metrics, config.drain_timeout_s)
    return ReferenceApp(ServerState(config, device, metrics, manager, FaultTable(), auth))


def app_from_env() -> ReferenceApp:
    """uvicorn factory for --workers > 1: each worker process rebuilds the app from the config."""
    config = ServerConfig.from_json(os.environ[CONFIG_ENV])
    configure_logging(config.log_level)
    return create_app(config)
