"""The Open Inference Protocol v2 front: infer, readiness and metadata under /v2.

Raw ASGI, called by the dispatcher (app.py) once it has matched the route, applied auth and
read the body within its size limit.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..asgi import JSON_HEADERS, Send, never, send_bytes, send_error, send_json
from ..backends.base import Outputs
from ..binary_data import BINARY_CONTENT_TYPE, HEADER, OutputChoice, attach_raw, output_choices, split_body
from ..drift import monitor_of
from ..errors import RequestError
from ..extensions import ROUTE_EXTENSIONS
from ..features import request_input
from ..guard import Guard
from ..model_manager import LoadedVersion
from ..repository import version_sort_key
from ..routing import resolve, resolve_waking
from ..state import ServerState
from ..validation import oip_inputs, parse_body, request_rows, tensor_rows
from .headers import version_headers

log = logging.getLogger("reference_server")

SERVER_NAME = "slogate-reference"
SERVER_VERSION = "0.1.0"
DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.float16): "FP16",
             np.dtype(np.int64): "INT64", np.dtype(np.int32): "INT32", np.dtype(np.bool_): "BOOL"}
OIP_EXTENSIONS = ("binary_tensor_data", "model_repository")  # binary_data.py; fronts/repository.py
PLATFORMS = {"torch": "pytorch_libtorch", "torchscript": "pytorch_libtorch"}


@dataclass(frozen=True, slots=True)
class Served:
    """One inference's answer, for its transport to encode."""

    loaded: LoadedVersion
    outputs: Outputs
    nan: bool  # a nan fault fired: every output value goes out as NaN
    headers: list[tuple[bytes, bytes]]  # x-model-version, x-cold-start, x-feature-source


class OipFront:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._ids = itertools.count(1)

    async def infer(self, send: Send, model: str, version: str | None, raw: bytes,
                    header_length: bytes | None = None, client_gone: Callable[[], bool] = never) -> None:
        """validate → resolve → guard → run → respond; a failure answers its status.
        `header_length` is the request's Inference-Header-Content-Length (binary tensors);
        `client_gone` tells whether its client has hung up (asgi.client_gone)."""
        guard = Guard(self.state, model, client_gone)
        try:
            async with guard:
                header, binary = split_body(raw, header_length)
                body = parse_body(header)
                served = await self.serve(guard, model, version, body, oip_inputs(body, binary))
                await self._respond(send, served.loaded, body, served.outputs, served.nan, served.headers)
        except RequestError as e:
            await send_error(send, e)
        except Exception:  # a model failure: log the type, never the payload
            log.exception("inference failed for %s/%s", model, guard.loaded.version if guard.loaded else "?")
            await send_json(send, 500, {"error": "inference failed", "field": None})

    async def serve(self, guard: Guard, model: str, version: str | None, body: dict[str, Any],
                    inputs: list[dict[str, Any]]) -> Served:
        """resolve → guard → run, for a request any transport has parsed into OIP inputs (each
        with name, datatype, shape and data) inside the open `guard`."""
        loaded, waited_s = await resolve_waking(self.state.scaler, model, version)
        guard.admit(loaded)
        rows = _rows(loaded, inputs)
        rows, feature_source = await _features(loaded, rows)
        await guard.before_response()
        outputs = await _run(loaded, body, rows, guard.client_gone)
        if loaded.drift is not None:  # batched versions only, whose rows are an array
            loaded.drift.record(rows, outputs)  # type: ignore[arg-type]
        return Served(loaded, outputs, guard.effects.nan,
                      [*version_headers(loaded.version, waited_s), *feature_headers(feature_source)])

    async def _respond(self, send: Send, loaded: LoadedVersion, body: dict[str, Any], outputs: Outputs,
                       nan: bool, headers: list[tuple[bytes, bytes]]) -> None:
        choices = output_choices(body, list(outputs))
        payload, content = encode_answer(loaded, body.get("id") or str(next(self._ids)), outputs, nan, choices)
        await send_bytes(send, 200, payload, [*content, *headers])

    async def server_ready(self, send: Send) -> None:
        state = self.state
        if state.ready:
            await send_json(send, 200, {"ready": True})
        else:
            why = "draining" if state.draining else "loading models"
            await send_json(send, 503, {"ready": False, "error": why, "field": None})

    async def model_ready(self, send: Send, model: str, version: str | None) -> None:
        await send_json(send, *self.model_readiness(model, version))

    def model_readiness(self, model: str, version: str | None) -> tuple[int, dict[str, Any]]:
        """The status and body of a model's readiness; an unknown model raises its 404."""
        entry = self.state.manager.entry(model)
        picked = version if version is not None else entry.split.pick()
        if picked in entry.parked:
            # scaled to zero is servable: its next request loads it (KServe reports such a model ready too)
            return 200, {"name": model, "version": picked, "ready": not self.state.draining, "scaled_to_zero": True}
        try:
            loaded = resolve(self.state.manager, model, picked)
        except RequestError as e:
            if e.status == 404 and (e.field == "model" or picked not in entry.refused):
                raise  # an unknown model or version is not unready: it is not there
            return 503, {"name": model, "ready": False, "error": e.error, "field": e.field}
        return 200, {"name": model, "version": loaded.version, "ready": not self.state.draining}

    @staticmethod
    def server_metadata() -> dict[str, Any]:
        """GET /v2: the OIP extensions served here and the route extensions mounted beside /v2 (openai)."""
        return {"name": SERVER_NAME, "version": SERVER_VERSION,
                "extensions": sorted([*OIP_EXTENSIONS, *ROUTE_EXTENSIONS.names()])}

    def model_metadata(self, model: str, version: str | None) -> dict[str, Any]:
        manager = self.state.manager
        entry = manager.entry(model)
        routable = entry.routable()
        if version is not None and version not in routable:
            resolve(manager, model, version)  # raises the 404 that says why
        if not routable:
            raise RequestError(404, f"no version of {model!r} is loaded", "model")
        spec = entry.spec_of(version or routable[-1])
        assert spec is not None
        baseline = spec.baseline.model_dump(exclude_none=True) if spec.baseline else None
        inputs = [request_input(spec), *spec.inputs[1:]] if spec.inputs else []
        return {
            "name": model,
            "versions": [version] if version is not None else routable,
            "platform": PLATFORMS.get(spec.backend, spec.backend),
            "inputs": [{"name": t.name, "datatype": t.datatype, "shape": t.shape} for t in inputs],
            "outputs": [{"name": t.name, "datatype": t.datatype, "shape": t.shape} for t in spec.outputs],
            "parameters": {
                "backend": spec.backend,
                "feature_names": inputs[0].feature_names if inputs else None,
                "baseline": baseline,
                "traffic": entry.split.weights(),
                "load_seconds": {v: lv.load_seconds for v, lv in entry.versions.items()},
                "served": {v: _served(lv) for v, lv in entry.versions.items()},
                "scaled_to_zero": sorted(entry.parked, key=version_sort_key),
            },
        }

    async def drift(self, model: str, version: str | None) -> dict[str, Any]:
        """The drift report of one version, or of every loaded version of the model that has a monitor."""
        manager = self.state.manager
        if version is not None:
            if version in manager.entry(model).parked:  # not a 503: no retry loads it, only a request does
                raise RequestError(404, f"{model}/{version} is scaled to zero: it keeps no drift window until it "
                                        "loads", "version")
            return {"model": model, "version": version, **await monitor_of(resolve(manager, model, version)).report()}
        entry = manager.entry(model)
        return {"model": model,
                "versions": {v: await lv.drift.report() for v, lv in entry.versions.items() if lv.drift is not None}}


def feature_headers(source: str | None) -> list[tuple[bytes, bytes]]:
    """x-feature-source (`store`, or `fallback:<reason>`) where the version looked its features up."""
    return [] if source is None else [(b"x-feature-source", source.encode())]


async def _features(loaded: LoadedVersion, rows: np.ndarray | int) -> tuple[np.ndarray | int, str | None]:
    """The model's rows, their stored columns filled by the version's feature lookup, if it has one."""
    if loaded.features is None:
        return rows, None
    assert isinstance(rows, np.ndarray)
    return await loaded.features.fill(rows)


def _served(loaded: LoadedVersion) -> dict[str, str]:
    """What serves the version, beside what model.json asked for (a fallback may have taken over)."""
    served = loaded.backend.served_by()
    return {"backend": served.backend, "requested_backend": loaded.spec.backend, "device": served.device}


def _rows(loaded: LoadedVersion, inputs: list[dict[str, Any]]) -> np.ndarray | int:
    """Validate the request for this backend: an array for tensor models, a row count otherwise."""
    serving = loaded.backend.serving
    if serving == "batched":
        return tensor_rows(inputs, loaded.request_input)
    if serving == "direct":
        return request_rows(inputs)
    raise RequestError(400, f"model {loaded.model} does not serve /v2 infer (backend {loaded.spec.backend})", "model")


async def _run(loaded: LoadedVersion, body: dict[str, Any], rows: np.ndarray | int,
               client_gone: Callable[[], bool]) -> Outputs:
    if loaded.batcher is not None:
        assert isinstance(rows, np.ndarray)
        return await loaded.batcher.submit(rows, client_gone)
    return await loaded.backend.infer(body, rows)  # type: ignore[attr-defined]


def encode_answer(loaded: LoadedVersion, request_id: str, outputs: Outputs, nan: bool,
            choices: list[OutputChoice]) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The answer's body and content headers: JSON, or a JSON header followed by the raw outputs."""
    tensors, raws = [], []
    for choice in choices:
        array = outputs[choice.name]
        values = np.full(array.shape, np.nan) if nan else np.ascontiguousarray(array)
        tensor = {"name": choice.name, "datatype": DATATYPES.get(array.dtype, "FP32"), "shape": list(array.shape),
                  "data": values.reshape(-1)}
        if choice.binary:
            raws.append(attach_raw(tensor, values))
        tensors.append(tensor)
    response = {"model_name": loaded.model, "model_version": loaded.version, "id": request_id, "outputs": tensors}
    header = _json(response, nan)
    if not raws:
        return header, JSON_HEADERS
    return header + b"".join(raws), [(b"content-type", BINARY_CONTENT_TYPE), (HEADER, str(len(header)).encode())]


def _json(response: dict[str, Any], nan: bool) -> bytes:
    if nan:  # orjson would write null; NaN literals (as Triton writes them) keep the corruption silent
        for t in response["outputs"]:
            if "data" in t:
                t["data"] = t["data"].tolist()
        return json.dumps(response).encode()
    return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
