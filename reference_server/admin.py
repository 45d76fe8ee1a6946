"""The /admin API (off the hot path, so Starlette): traffic split, load/reload/unload, drift resets, faults.

Auth and the body-size limit are applied by the dispatcher before a request gets here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .admin_changes import Change, fault_added
from .errors import RequestError
from .faults import FaultRequest
from .json_errors import json_error_handlers
from .model_manager import LoadedVersion
from .repository import RepositoryError
from .state import ServerState


async def _json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise RequestError(400, "body is not valid JSON", "body") from None


def _versions(state: ServerState, model: str) -> dict[str, Any]:
    entry = state.manager.entry(model)
    return {
        "model": model,
        "traffic": entry.split.weights(),
        "versions": {
            v: {"state": "ready", "backend": lv.spec.backend, "load_seconds": lv.load_seconds,
                "loaded_at": lv.loaded_at, "in_flight": lv.in_flight, "queue_depth": lv.queue_depth}
            for v, lv in entry.versions.items()
        } | {v: {"state": "scaled_to_zero", "backend": spec.backend} for v, spec in entry.parked.items()},
        "refused": dict(entry.refused),
    }


def _check_fault_applies(state: ServerState, spec: FaultRequest) -> None:
    """nan corrupts tensors and truncate cuts streams: refuse either aimed at a model it cannot touch."""
    entry = state.manager.models.get(spec.model or "")
    if entry is None or spec.kind not in ("nan", "truncate"):
        return  # a fault for any model, or one not loaded (yet): applies wherever it means something
    generative = any(lv.generative is not None for lv in entry.versions.values())
    if generative == (spec.kind == "nan"):
        what = "an LLM (no tensors to corrupt)" if generative else "not an LLM (no stream to cut)"
        raise RequestError(400, f"a {spec.kind} fault cannot apply to {spec.model}: it is {what}", "kind")


async def _loading(request: Request, submit: Callable[[Change], Awaitable[LoadedVersion]], kind: str) -> Response:
    model, version = request.path_params["model"], request.path_params["version"]
    try:
        loaded = await submit({"kind": kind, "model": model, "version": version})
    except RepositoryError as e:  # the reason as /metrics labels it: sha256_mismatch, invalid_spec, ...
        return JSONResponse({"error": str(e), "field": "version", "reason": e.reason},
                            status_code=404 if e.reason == "not_found" else 422)
    return JSONResponse({"model": model, "version": version, "state": "ready", "load_seconds": loaded.load_seconds})


def build_admin_app(state: ServerState) -> Starlette:
    manager, faults = state.manager, state.faults

    async def submit(change: Change) -> Any:
        return await state.changes.submit(change)  # looked up per call: a Ray replica installs its own after build

    def version_change(request: Request, kind: str) -> Change:
        return {"kind": kind, "model": request.path_params["model"], "version": request.path_params["version"]}

    async def list_models(request: Request) -> Response:
        return JSONResponse({"models": [_versions(state, m) for m in manager.models]})

    async def traffic(request: Request) -> Response:
        model = request.path_params["model"]
        entry = manager.entry(model)
        if request.method == "PUT":
            body = await _json_body(request)
            if not isinstance(body, dict) or not body:
                raise RequestError(400, 'body must be an object like {"1": 90, "2": 10}', "body")
            return JSONResponse({"model": model, "traffic": await submit({"kind": "traffic", "model": model,
                                                                          "weights": body})})
        return JSONResponse({"model": model, "traffic": entry.split.weights()})

    async def load(request: Request) -> Response:
        return await _loading(request, submit, "load")

    async def reload(request: Request) -> Response:
        """Load the version again from disk; refused (422), the copy already loaded keeps serving."""
        return await _loading(request, submit, "reload")

    async def unload(request: Request) -> Response:
        await submit(version_change(request, "unload"))
        return JSONResponse({**request.path_params, "state": "unloaded"})

    async def park(request: Request) -> Response:
        """Scale to zero now: unloaded, still routable; its next request loads it again.
        Idempotent: a version already scaled to zero (on demand, say) stays so."""
        await submit(version_change(request, "park"))
        return JSONResponse({**request.path_params, "state": "scaled_to_zero"})

    async def scaling(request: Request) -> Response:
        """Set (or, with null, stop) the version's idle unload, overriding its model.json."""
        model, version = request.path_params["model"], request.path_params["version"]
        if manager.entry(model).spec_of(version) is None:
            raise RequestError(404, f"{model}/{version} is not loaded", "version")
        body = await _json_body(request)
        idle = body.get("idle_unload_s", "missing") if isinstance(body, dict) else "missing"
        seconds = isinstance(idle, (int, float)) and not isinstance(idle, bool) and 0 < idle < float("inf")
        if idle is not None and not seconds:
            raise RequestError(400, 'body must be like {"idle_unload_s": 2.5} (seconds > 0, or null)', "idle_unload_s")
        await submit({**version_change(request, "scaling"), "idle_unload_s": None if idle is None else float(idle)})
        return JSONResponse({"model": model, "version": version, "idle_unload_s": idle})

    async def drift_reset(request: Request) -> Response:
        await submit(version_change(request, "drift_reset"))
        return JSONResponse({**request.path_params, "drift": "reset"})

    async def fault_collection(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": faults.list()})
        if request.method == "DELETE":
            return JSONResponse({"cleared": await submit({"kind": "fault_clear", "id": None})})
        try:
            spec = FaultRequest.model_validate(await _json_body(request))
        except ValidationError as e:
            first = e.errors()[0]
            # a rule across fields (a latency fault needs ms) has no location: the body is to blame
            raise RequestError(400, first["msg"], ".".join(map(str, first["loc"])) or "body") from None
        _check_fault_applies(state, spec)
        return JSONResponse((await submit(fault_added(spec))).describe(), status_code=201)

    async def fault_item(request: Request) -> Response:
        return JSONResponse({"cleared": await submit({"kind": "fault_clear", "id": request.path_params["fault_id"]})})

    return Starlette(
        routes=[
            Route("/admin/models", list_models, methods=["GET"]),
            Route("/admin/models/{model}/traffic", traffic, methods=["GET", "PUT"]),
            Route("/admin/models/{model}/versions/{version}/load", load, methods=["POST"]),
            Route("/admin/models/{model}/versions/{version}/reload", reload, methods=["POST"]),
            Route("/admin/models/{model}/versions/{version}/unload", unload, methods=["POST"]),
            Route("/admin/models/{model}/versions/{version}/park", park, methods=["POST"]),
            Route("/admin/models/{model}/versions/{version}/scaling", scaling, methods=["PUT"]),
            Route("/admin/models/{model}/versions/{version}/drift/reset", drift_reset, methods=["POST"]),
            Route("/admin/faults", fault_collection, methods=["GET", "POST", "DELETE"]),
            Route("/admin/faults/{fault_id}", fault_item, methods=["DELETE"]),
        ],
        exception_handlers=json_error_handlers(),
    )
