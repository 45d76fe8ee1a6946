"""`oip-v2-grpc`: the Open Inference Protocol v2 over gRPC (Triton, KServe, MLServer, and the
reference server's --grpc-port).

`target.url: grpc://HOST:PORT`, plaintext HTTP/2 (`http://HOST:PORT` reads the same, as a fault
proxy in front hands it on). A managed reference server is started with --grpc-port and reached
there. One channel per run. `target.options`:
  check_outputs: a 2xx whose outputs hold NaN or Inf is `invalid_response` (default true);
  contents:      raw (default: raw_input_contents, as tritonclient sends tensors) | typed
                 (InferTensorContents' field of the datatype).

Each request is rendered before the run: the serialized ModelInferRequest, and its metadata
(target.headers; with the run's credentials an API key and a signature over POST, the method
path and those bytes, as the reference server checks them). Timing: first_byte_ns when the
answer's initial metadata arrives, done_ns when its message has. A failed call is an Outcome:
the HTTP status of its gRPC code, kind `http` (slogate_common/oip_grpc/status.py), except a
DEADLINE_EXCEEDED (`timeout`), a CANCELLED (`cancelled`) and an UNAVAILABLE that grpc itself
raised for a connection it could not make (`connect`) or lost (`reset`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import grpc
import numpy as np
from google.protobuf.message import DecodeError

from harness.clients.base import ClientOptions, Endpoint, clients
from harness.clients.errors import TRANSPORT_ERROR_STATUS, classify_exception
from harness.clients.exchange import Answer, cold_wait_ns
from harness.contracts import ModelInfo, Payload
from harness.records import NEVER, Outcome
from slogate_common.oip_grpc.messages import (
    ModelInferRequest,
    ModelInferResponse,
    ModelMetadataRequest,
    ModelMetadataResponse,
    ServerReadyRequest,
    ServerReadyResponse,
    method_path,
)
from slogate_common.oip_grpc.status import http_status
from slogate_common.oip_grpc.tensors import fill_contents, tensor_values
from slogate_common.raw_tensors import encode

PROTOCOL = "oip-v2-grpc"
SCHEMES = ("grpc", "http")
INFER = method_path("ModelInfer")
READY_PROBE_TIMEOUT_S = 2.0
# grpc backs off up to 120 s between attempts to reach a server that was down; a run measures
# how soon a restarted server serves again, and readiness polls every 0.1 s, so retry briskly
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.max_receive_message_length", -1),
]
# Words of grpc's own UNAVAILABLE details, by the error kind they mean; any other UNAVAILABLE
# is the server's answer (a 503).
TRANSPORT_FAILURES = {
    "connect": ("failed to connect", "connection refused", "dns resolution failed"),
    "reset": ("socket closed", "connection reset", "broken pipe", "goaway", "stream removed", "endpoint closing"),
}


class OipGrpcOptions(ClientOptions):
    check_outputs: bool = True
    contents: Literal["raw", "typed"] = "raw"


@dataclass(frozen=True, slots=True)
class GrpcRequest:
    """A rendered call: the serialized request and the metadata it is sent with."""

    message: bytes
    metadata: tuple[tuple[str, str], ...]


def grpc_address(url: str) -> str:
    """HOST:PORT of a grpc:// (or plaintext http://) URL; a ValueError for any other."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname or parts.port is None or parts.path.strip("/"):
        raise ValueError(f"protocol oip-v2-grpc needs a url grpc://HOST:PORT (plaintext), not {url!r}")
    return parts.netloc


def open_channel(url: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(grpc_address(url), options=CHANNEL_OPTIONS)


@clients.register(PROTOCOL, args=OipGrpcOptions)
class OipGrpcClient:
    def __init__(self, endpoint: Endpoint) -> None:
        if not endpoint.model:
            raise ValueError("protocol oip-v2-grpc needs target.model")
        self.endpoint = endpoint
        self.channel = open_channel(endpoint.base_url)
        self._infer = self.channel.unary_unary(INFER)  # bytes in, bytes out: requests are rendered before the run
        self._headers = {key.lower(): value for key, value in endpoint.headers.items()}
        self._input: dict[str, Any] = {}

    async def describe(self, session: aiohttp.ClientSession) -> ModelInfo:
        """ModelMetadata: tensors and versions (the message has no parameters, so no baseline)."""
        request = ModelMetadataRequest(name=self.endpoint.model, version=self.endpoint.version or "")
        call = self._rendered(method_path("ModelMetadata"), request.SerializeToString())
        try:
            raw = await self.channel.unary_unary(method_path("ModelMetadata"))(
                call.message, metadata=call.metadata, timeout=self.endpoint.timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise RuntimeError(f"ModelMetadata of {self.endpoint.model} at {self.endpoint.base_url} answered "
                               f"{exc.code().name}: {exc.details()}") from None
        meta = ModelMetadataResponse.FromString(raw)
        info = ModelInfo(inputs=[_tensor_metadata(t) for t in meta.inputs],
                         outputs=[_tensor_metadata(t) for t in meta.outputs], versions=list(meta.versions))
        self._input = info.inputs[0] if info.inputs else {"name": "input", "datatype": "FP32"}
        return info

    def encode(self, payload: Payload) -> GrpcRequest:
        rows = np.asarray(payload.data)
        datatype = self._input.get("datatype", "FP32")
        request = ModelInferRequest(model_name=self.endpoint.model, model_version=self.endpoint.version or "",
                                    id=str(payload.payload_id))
        tensor = request.inputs.add(name=self._input.get("name", "input"), datatype=datatype, shape=rows.shape)
        if self.endpoint.options.contents == "raw":
            request.raw_input_contents.append(encode(rows, datatype))
        else:
            fill_contents(tensor.contents, rows, datatype)
        return self._rendered(INFER, request.SerializeToString(), payload)

    def _rendered(self, path: str, message: bytes, payload: Payload | None = None) -> GrpcRequest:
        """The call with its metadata; with the run's credentials, presented as the payload's stamp says."""
        credentials = self.endpoint.credentials
        signed = credentials.headers(payload.auth if payload else None, "POST", path, message) if credentials else {}
        return GrpcRequest(message, tuple((self._headers | signed).items()))

    async def send(self, session: aiohttp.ClientSession, request: GrpcRequest) -> Outcome:
        try:
            call = self._infer(request.message, metadata=request.metadata, timeout=self.endpoint.timeout_s)
            headers = await call.initial_metadata()
            first_byte_ns = time.perf_counter_ns()
            raw = await call
        except grpc.aio.AioRpcError as exc:
            status, kind = failure_kind(exc.code(), exc.details() or "")
            return Outcome(status, kind, NEVER, time.perf_counter_ns(), detail=f"{exc.code().name}: {exc.details()}"[:200])
        except Exception as exc:  # noqa: BLE001 - failures are records, never raised
            status, kind = classify_exception(exc)
            return Outcome(status, kind, NEVER, time.perf_counter_ns(), detail=type(exc).__name__)
        return self._judge(raw, headers, first_byte_ns, time.perf_counter_ns())

    def _judge(self, raw: bytes, headers: Any, first_byte_ns: int, done_ns: int) -> Outcome:
        header_version = headers.get("x-model-version")
        try:
            answer = self.check(ModelInferResponse.FromString(raw))
        except (DecodeError, ValueError) as exc:
            return Outcome(200, "invalid_response", first_byte_ns, done_ns, header_version, detail=str(exc)[:200])
        return Outcome(200, None, first_byte_ns, done_ns, answer.version or header_version,
                       prediction=answer.prediction, cold_wait_ns=cold_wait_ns(headers.get("x-cold-start")),
                       feature_source=headers.get("x-feature-source"))

    def check(self, response: Any) -> Answer:
        """A success only if it carries outputs, finite ones unless told otherwise; the first
        output's first value is kept as the request's prediction (the canary judge compares them)."""
        if not response.outputs:
            raise ValueError("response has no outputs")
        raws = response.raw_output_contents
        outputs = [tensor_values(t.datatype, list(t.shape), t.contents, raws[i] if i < len(raws) else None)
                   for i, t in enumerate(response.outputs)]
        numeric = [values for values in outputs if values.dtype.kind in "biuf"]
        if self.endpoint.options.check_outputs and not all(np.isfinite(values).all() for values in numeric):
            raise ValueError("response outputs contain NaN or Inf")
        first = outputs[0].ravel()
        prediction = float(first[0]) if first.size and outputs[0].dtype.kind in "biuf" else math.nan
        return Answer(response.model_version or None, prediction)

    async def warm(self, connections: int) -> None:
        """Connect before the run: one HTTP/2 connection carries every call."""
        try:
            await asyncio.wait_for(self.channel.channel_ready(), self.endpoint.timeout_s)
        except TimeoutError:
            pass  # the first calls will say what is wrong, as records

    async def close(self) -> None:
        await self.channel.close()

    def stats(self) -> dict[str, int]:
        return {}


def failure_kind(code: grpc.StatusCode, details: str) -> tuple[int, str]:
    """(status, error_kind) of a failed call."""
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return TRANSPORT_ERROR_STATUS, "timeout"
    if code is grpc.StatusCode.CANCELLED:
        return TRANSPORT_ERROR_STATUS, "cancelled"
    if code is grpc.StatusCode.UNAVAILABLE:
        lowered = details.lower()
        for kind, words in TRANSPORT_FAILURES.items():
            if any(word in lowered for word in words):
                return TRANSPORT_ERROR_STATUS, kind
    return http_status(code), "http"


def _tensor_metadata(tensor: Any) -> dict[str, Any]:
    return {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}


@asynccontextmanager
async def readiness(url: str, headers: dict[str, str]) -> AsyncIterator[Callable[[], Awaitable[tuple[bool, str | None]]]]:
    """A ServerReady probe over one channel, for polling: (ready, why nothing answered, or None
    when the server answered, even with an error)."""
    channel = open_channel(url)
    server_ready = channel.unary_unary(method_path("ServerReady"))
    metadata = tuple((key.lower(), value) for key, value in headers.items())

    async def ready() -> tuple[bool, str | None]:
        try:
            raw = await server_ready(ServerReadyRequest().SerializeToString(), metadata=metadata,
                                     timeout=READY_PROBE_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            unanswered = exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            return False, (exc.details() or exc.code().name) if unanswered else None
        return ServerReadyResponse.FromString(raw).ready, None

    try:
        yield ready
    finally:
        await channel.close()
