"""`GET /openapi.json`: the OpenAPI 3.1 document of this server, as it is configured and serving.

/v2 and /metrics are dispatched by a `match` in app.py, with no route objects to read, so their
operations are listed here. /admin and /v1 are Starlette routes: their paths and methods are
read off the mounted routers, so a route added there appears here, and `undocumented` names any
that has no description in this module (a test keeps that list empty). Bodies are described in
openapi_schemas.py.

The document is auth-aware: `securitySchemes` declares the API key and the admin token (HTTP
bearer) and, with --hmac-secret-file, the request signature headers; each operation's
`security` is what this server really asks of it (none at all in the loopback development mode,
health only with --protect-health). The model path parameter lists the served models as
examples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Route

from .auth import Authenticator
from .auth import Scope as AuthScope
from .binary_data import HEADER as BINARY_HEADER
from .openapi_schemas import Schema, component_schemas, ref

if TYPE_CHECKING:
    from .app import ReferenceApp

TITLE = "slogate reference server"
JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    """One documented route: what it does, what it needs, and the body it takes and answers."""

    summary: str
    scope: AuthScope
    answer: Schema | None = None  # the 200's JSON schema
    request: dict[str, Schema] = field(default_factory=dict)  # media type -> body schema
    request_required: bool = False
    created: bool = False  # answers 201
    may_be_unavailable: bool = False  # answers 503 while loading, draining or a version is down
    content: str = JSON
    streams: bool = False  # answers server-sent events when the request says `stream`
    headers: tuple[Schema, ...] = ()

    def document(self, path: str, method: str, security: list[dict[str, list[str]]],
                 examples: dict[str, list[str]]) -> Schema:
        doc: Schema = {"summary": self.summary, "operationId": _operation_id(method, path),
                       "tags": [_tag(path)], "security": security,
                       "parameters": [*_path_parameters(path, examples), *self.headers],
                       "responses": self._responses()}
        if self.request:
            doc["requestBody"] = {"required": self.request_required,
                                  "content": {media: {"schema": schema} for media, schema in self.request.items()}}
        return doc

    def _responses(self) -> Schema:
        ok = {"description": "ok", "content": {self.content: {"schema": self.answer or {}}}}
        if self.streams:
            ok["content"]["text/event-stream"] = {"schema": ref("StreamEvent")}
        error = {"description": "refused: `field` names what was wrong", "content": {JSON: {"schema": ref("Error")}}}
        responses: Schema = {"201" if self.created else "200": ok, "4XX": error}
        if self.may_be_unavailable:
            responses["503"] = {"description": "loading, draining, or the version is unavailable",
                                "content": {JSON: {"schema": {}}}}
        return responses


def _operation_id(method: str, path: str) -> str:
    words = [p.strip("{}") for p in path.split("/") if p]
    return method.lower() + "_" + "_".join(words).replace("-", "_").replace(".", "_")


def _tag(path: str) -> str:
    if path.startswith("/v2/repository"):
        return "repository"
    return {"v2": "oip-v2", "v1": "openai", "admin": "admin"}.get(path.split("/")[1], "server")


PATH_PARAMETER_DOCS = {"model": "a model's name", "model_name": "a model's name", "version": "a version",
                       "model_version": "a version", "fault_id": "a fault's id"}


def _path_parameters(path: str, examples: dict[str, list[str]]) -> list[Schema]:
    names = [p[1:-1] for p in path.split("/") if p.startswith("{")]
    parameters = []
    for name in names:
        schema: Schema = {"type": "string", "minLength": 1}
        if examples.get(name):
            schema["examples"] = examples[name]
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema,
                           "description": PATH_PARAMETER_DOCS.get(name, name)})
    return parameters


BINARY_LENGTH = {"name": BINARY_HEADER.decode(), "in": "header", "required": False,
                 "schema": {"type": "integer", "minimum": 0},
                 "description": "binary tensor data extension: the JSON header's length in bytes"}
INFER = Operation("infer: the version the traffic split picks, or the one named", AuthScope.API, ref("InferResponse"),
                  {JSON: ref("InferRequest"), "application/octet-stream": {"type": "string", "format": "binary"}},
                  request_required=True, may_be_unavailable=True, headers=(BINARY_LENGTH,))
MODEL_READY = Operation("model (version) readiness", AuthScope.HEALTH, ref("ModelReady"), may_be_unavailable=True)
MODEL_METADATA = Operation("model (version) metadata", AuthScope.API, ref("ModelMetadata"))
DRIFT = Operation("drift report of the model's (or one version's) served rows", AuthScope.API, ref("DriftReport"))

OIP_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/v2/health/live"): Operation("liveness", AuthScope.HEALTH, ref("Live")),
    ("GET", "/v2/health/ready"): Operation("readiness: every model loaded and warm", AuthScope.HEALTH,
                                           ref("ServerReady"), may_be_unavailable=True),
    ("GET", "/v2"): Operation("server metadata and extensions", AuthScope.API, ref("ServerMetadata")),
    ("GET", "/v2/models/{model_name}"): MODEL_METADATA,
    ("GET", "/v2/models/{model_name}/versions/{model_version}"): MODEL_METADATA,
    ("GET", "/v2/models/{model_name}/ready"): MODEL_READY,
    ("GET", "/v2/models/{model_name}/versions/{model_version}/ready"): MODEL_READY,
    ("GET", "/v2/models/{model_name}/drift"): DRIFT,
    ("GET", "/v2/models/{model_name}/versions/{model_version}/drift"): DRIFT,
    ("POST", "/v2/models/{model_name}/infer"): INFER,
    ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"): INFER,
    ("POST", "/v2/repository/index"): Operation("the models on disk, each version's state", AuthScope.API,
                                                ref("RepositoryIndex"), {JSON: ref("RepositoryIndexRequest")}),
    ("POST", "/v2/repository/models/{model_name}/load"): Operation(
        "load every version of a model on disk", AuthScope.ADMIN, ref("RepositoryModel"),
        {JSON: ref("RepositoryLoadRequest")}),
    ("POST", "/v2/repository/models/{model_name}/unload"): Operation(
        "unload every version of a model", AuthScope.ADMIN, ref("RepositoryModel"), {JSON: ref("RepositoryLoadRequest")}),
    ("GET", "/metrics"): Operation("Prometheus metrics", AuthScope.METRICS, {"type": "string"},
                                   content="text/plain"),
    ("GET", "/openapi.json"): Operation("this document", AuthScope.API, {"type": "object"}),
}

ADMIN_LOAD = Operation("load (or reload) a version from the repository", AuthScope.ADMIN, ref("AdminAnswer"))
ROUTED_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/admin/models"): Operation("every model, its versions and traffic split", AuthScope.ADMIN,
                                        ref("AdminAnswer")),
    ("GET", "/admin/models/{model}/traffic"): Operation("the traffic split", AuthScope.ADMIN, ref("AdminAnswer")),
    ("PUT", "/admin/models/{model}/traffic"): Operation("set the traffic split", AuthScope.ADMIN, ref("AdminAnswer"),
                                                        {JSON: ref("TrafficRequest")}, request_required=True),
    ("POST", "/admin/models/{model}/versions/{version}/load"): ADMIN_LOAD,
    ("POST", "/admin/models/{model}/versions/{version}/reload"): ADMIN_LOAD,
    ("POST", "/admin/models/{model}/versions/{version}/unload"): Operation("unload a version (drains first)",
                                                                          AuthScope.ADMIN, ref("AdminAnswer")),
    ("POST", "/admin/models/{model}/versions/{version}/park"): Operation("scale a version to zero",
                                                                        AuthScope.ADMIN, ref("AdminAnswer")),
    ("PUT", "/admin/models/{model}/versions/{version}/scaling"): Operation(
        "set (or, with null, stop) a version's idle unload", AuthScope.ADMIN, ref("AdminAnswer"),
        {JSON: ref("ScalingRequest")}, request_required=True),
    ("POST", "/admin/models/{model}/versions/{version}/drift/reset"): Operation(
        "empty a version's drift window", AuthScope.ADMIN, ref("AdminAnswer")),
    ("GET", "/admin/faults"): Operation("the active faults", AuthScope.ADMIN, ref("AdminAnswer")),
    ("POST", "/admin/faults"): Operation("inject a fault", AuthScope.ADMIN, ref("AdminAnswer"),
                                         {JSON: ref("FaultRequest")}, request_required=True, created=True),
    ("DELETE", "/admin/faults"): Operation("clear every fault", AuthScope.ADMIN, ref("AdminAnswer")),
    ("DELETE", "/admin/faults/{fault_id}"): Operation("clear one fault", AuthScope.ADMIN, ref("AdminAnswer")),
    ("POST", "/v1/completions"): Operation("OpenAI completion (stream: server-sent events)", AuthScope.API,
                                           ref("Completion"), {JSON: ref("CompletionRequest")},
                                           request_required=True, may_be_unavailable=True, streams=True),
    ("POST", "/v1/chat/completions"): Operation("OpenAI chat completion (stream: server-sent events)", AuthScope.API,
                                                ref("Completion"), {JSON: ref("ChatCompletionRequest")},
                                                request_required=True, may_be_unavailable=True, streams=True),
    ("GET", "/v1/models"): Operation("the LLMs served", AuthScope.API, ref("ModelList"), may_be_unavailable=True),
}


def mounted(routes: Iterable[BaseRoute]) -> list[tuple[str, str]]:
    """(method, path) of every Starlette route, HEAD (which Starlette adds to GET) left out."""
    return [(method, route.path) for route in routes if isinstance(route, Route)
            for method in sorted(route.methods or ()) if method != "HEAD"]


def undocumented(app: ReferenceApp) -> list[tuple[str, str]]:
    return [key for key in _routed(app) if key not in ROUTED_OPERATIONS]


def _routed(app: ReferenceApp) -> list[tuple[str, str]]:
    routers = [app.admin, *([app.extensions] if app.extensions is not None else [])]
    return [key for router in routers for key in mounted(router.routes)]


def security_schemes(auth: Authenticator) -> Schema:
    schemes: Schema = {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from --api-keys-file"},
        "adminToken": {"type": "http", "scheme": "bearer", "description": "the token in --admin-token-file"},
    }
    if auth.hmac_secret is not None:
        schemes["requestSignature"] = {
            "type": "apiKey", "in": "header", "name": "x-slogate-signature",
            "description": "hex HMAC-SHA256(secret, METHOD\\nPATH[?QUERY]\\nTIMESTAMP\\nNONCE\\nBODY), with "
                           "x-slogate-timestamp (unix seconds, ±300 s) and a fresh x-slogate-nonce"}
    return schemes


def security(auth: Authenticator, scope: AuthScope) -> list[dict[str, list[str]]]:
    """The requirement this server enforces for `scope`: [] where it checks nothing."""
    requirement: dict[str, list[str]] = {}
    if scope is AuthScope.ADMIN:
        if auth.admin_token is not None or auth.api_keys is not None:  # neither: the open development mode
            requirement["adminToken"] = []
    elif auth.protected[scope]:
        requirement["apiKey"] = []
    if auth.hmac_secret is not None and scope in (AuthScope.API, AuthScope.ADMIN):
        requirement["requestSignature"] = []
    return [requirement] if requirement else []


def openapi_document(app: ReferenceApp, server_version: str) -> Schema:
    state = app.state
    models = state.manager.models
    versions = sorted({v for entry in models.values() for v in (*entry.versions, *entry.parked)})
    examples = {"model": sorted(models), "model_name": sorted(models), "version": versions, "model_version": versions}
    operations = {**OIP_OPERATIONS,
                  **{key: ROUTED_OPERATIONS[key] for key in _routed(app) if key in ROUTED_OPERATIONS}}
    paths: Schema = {}
    for (method, path), operation in operations.items():
        paths.setdefault(path, {})[method.lower()] = operation.document(
            path, method, security(state.auth, operation.scope), examples)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": server_version,
                 "description": "Open Inference Protocol v2 (REST, with the binary tensor data and model repository "
                                "extensions), OpenAI-compatible /v1 for LLM versions, and the admin API."},
        "paths": paths,
        "components": {"schemas": component_schemas(), "securitySchemes": security_schemes(state.auth)},
    }
