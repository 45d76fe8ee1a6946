"""The Open Inference Protocol v2 over gRPC: `inference.GRPCInferenceService` on --grpc-port.

The six RPCs of KServe's v2 protocol, through the same parts as /v2. ModelInfer parses its
message into OIP inputs and runs `OipFront.serve` (the traffic split, the guard with its faults
and metrics, batching), then answers the outputs in raw_output_contents and the answer headers
(x-model-version, x-cold-start, x-feature-source) as initial metadata. Auth reads the same
headers from the call's metadata: the API key as `authorization: Bearer <key>`, and a signature
over POST, the method path (/inference.GRPCInferenceService/ModelInfer) and the serialized
request. A RequestError ends the call with the gRPC code of its HTTP status
(slogate_common/oip_grpc/status.py) and its message after the field it names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from slogate_common.oip_grpc.messages import (
    SERVICE,
    ModelMetadataResponse,
    ModelReadyResponse,
    ServerLiveResponse,
    ServerMetadataResponse,
    ServerReadyResponse,
    message_class,
    method_path,
    rpcs,
)
from slogate_common.oip_grpc.status import grpc_code

from ..auth import Scope
from ..errors import RequestError
from ..guard import Guard
from ..state import ServerState
from .oip import OipFront
from .oip_grpc_tensors import in_grpc_terms, infer_response, request_inputs

log = logging.getLogger("reference_server")

Answer = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]  # (request message, context) -> response message


class OipGrpcFront:
    def __init__(self, state: ServerState, oip: OipFront) -> None:
        self.state = state
        self.oip = oip

    def handler(self) -> grpc.GenericRpcHandler:
        """Every RPC of the service, each taking and answering serialized messages."""
        answers: dict[str, tuple[Scope, Answer]] = {
            "ServerLive": (Scope.HEALTH, self.server_live),
            "ServerReady": (Scope.HEALTH, self.server_ready),
            "ModelReady": (Scope.HEALTH, self.model_ready),
            "ServerMetadata": (Scope.API, self.server_metadata),
            "ModelMetadata": (Scope.API, self.model_metadata),
            "ModelInfer": (Scope.API, self.model_infer),
        }
        handlers = {rpc.name: grpc.unary_unary_rpc_method_handler(
            self._unary(rpc.name, message_class(rpc.input_type), *answers[rpc.name])) for rpc in rpcs()}
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _unary(self, rpc: str, request_type: Any, scope: Scope, answer: Answer) -> Callable[..., Awaitable[bytes]]:
        path = method_path(rpc)

        async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
            try:
                self._authorize(scope, context, path, raw)
                response = await answer(_parse(request_type, raw), context)
            except RequestError as e:
                await context.abort(grpc_code(e.status), _details(e), tuple(e.headers.items()))
            except Exception:  # a model failure: log the type, never the payload
                log.exception("gRPC %s failed", rpc)
                await context.abort(grpc.StatusCode.INTERNAL, "inference failed")
            return response.SerializeToString()

        return handle

    def _authorize(self, scope: Scope, context: grpc.aio.ServicerContext, path: str, raw: bytes) -> None:
        checker = self.state.auth
        if checker.requires_check(scope):
            headers = {key.encode(): value if isinstance(value, bytes) else value.encode("latin-1")
                       for key, value in context.invocation_metadata() or ()}
            checker.check(scope, headers, "POST", path, raw)

    async def server_live(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return ServerReadyResponse(ready=self.state.ready)

    async def model_ready(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        # Triton answers ModelReady for a model or version it does not have with ready=false,
        # not an error (tritonclient's is_model_ready relies on it); HTTP's ready route says 404
        try:
            status, body = self.oip.model_readiness(request.name, request.version or None)
        except RequestError as e:
            if e.status != 404:
                raise
            return ModelReadyResponse(ready=False)
        return ModelReadyResponse(ready=status == 200 and body["ready"])

    async def server_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return ServerMetadataResponse(**self.oip.server_metadata())

    async def model_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """The OIP metadata but its `parameters` (baseline, traffic, served), which the message has no field for."""
        meta = self.oip.model_metadata(request.name, request.version or None)
        return ModelMetadataResponse(name=meta["name"], versions=meta["versions"], platform=meta["platform"],
                                     inputs=meta["inputs"], outputs=meta["outputs"])

    async def model_infer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        guard = Guard(self.state, request.model_name)
        async with guard:
            try:
                inputs = request_inputs(request)
                served = await self.oip.serve(guard, request.model_name, request.model_version or None,
                                              {"id": request.id}, inputs)
            except RequestError as e:
                raise in_grpc_terms(e, request) from None
            response = infer_response(served, request.id)
        await context.send_initial_metadata([(key.decode(), value.decode()) for key, value in served.headers])
        return response


def _parse(request_type: Any, raw: bytes) -> Any:
    try:
        return request_type.FromString(raw)
    except DecodeError:
        raise RequestError(400, f"the request is not a {request_type.DESCRIPTOR.name}", None) from None


def _details(error: RequestError) -> str:
    """The message a client sees: `field: error`, as /v2 names the field beside its error."""
    return f"{error.field}: {error.error}" if error.field else error.error
