"""The JSON Schemas of the OpenAPI document's request and answer bodies (`components.schemas`).

Where the server validates with a pydantic model the schema is that model's own
(`model_json_schema`): the admin API's fault request, and model.json's tensor specs in the
metadata. The OIP v2 infer envelope (validation.py, binary_data.py), the repository extension
(fronts/repository.py) and the OpenAI requests (openai_api.py) are checked by hand instead,
on the raw ASGI hot path where a pydantic pass per request costs more than the whole check, so
their schemas are written here beside the constants those checks use. The fuzz test
(benchmarks/fuzz_server.py) holds the two together: a body these schemas accept must not be
refused for its shape, and a body they refuse must get a 4xx.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from slogate_common.raw_tensors import DATATYPES

from .faults import FaultRequest
from .openai_api import ROLES
from .repository import TensorSpec

Schema = dict[str, Any]
REF = "#/components/schemas/"


def ref(name: str) -> Schema:
    return {"$ref": REF + name}


def _object(properties: Schema, required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


STRING, BOOLEAN, INTEGER, NUMBER = ({"type": t} for t in ("string", "boolean", "integer", "number"))
ANY_OBJECT: Schema = {"type": "object"}
COUNT: Schema = {"type": "integer", "minimum": 0}


def _pydantic(model: type[BaseModel], *, keep: tuple[str, ...] | None = None) -> Schema:
    """A pydantic model's schema, optionally narrowed to the properties an answer carries."""
    schema = model.model_json_schema()
    if keep is not None:
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k in keep}
        schema["required"] = [k for k in schema.get("required", []) if k in keep]
    return schema


def _tensor_schemas() -> dict[str, Schema]:
    datatype = {"type": "string", "enum": sorted(DATATYPES)}
    return {
        "Datatype": datatype,
        "InferInput": _object({
            "name": STRING,
            "datatype": ref("Datatype"),
            "shape": {"type": "array", "items": COUNT},
            "data": {"type": "array", "description": "flat or nested, row-major; BYTES elements as strings"},
            "parameters": _object({"binary_data_size": COUNT | {
                "description": "binary tensor data extension: this many bytes after the JSON header are the "
                               "tensor's raw data (sent with Inference-Header-Content-Length, no `data`)"}}),
        }, ("name", "datatype", "shape", "data")),
        "InferRequestedOutput": _object({"name": STRING, "parameters": _object({"binary_data": BOOLEAN})},
                                        ("name",)),
        "InferRequest": _object({
            "id": STRING,
            "parameters": _object({"binary_data_output": BOOLEAN}),
            "inputs": {"type": "array", "items": ref("InferInput"), "minItems": 1},
            "outputs": {"type": "array", "items": ref("InferRequestedOutput")},
        }, ("inputs",)),
        "InferOutput": _object({"name": STRING, "datatype": ref("Datatype"), "shape": {"type": "array", "items": COUNT},
                                "data": {"type": "array"}, "parameters": _object({"binary_data_size": COUNT})},
                               ("name", "datatype", "shape")),
        "InferResponse": _object({"model_name": STRING, "model_version": STRING, "id": STRING,
                                  "outputs": {"type": "array", "items": ref("InferOutput")}},
                                 ("model_name", "model_version", "id", "outputs")),
        "MetadataTensor": _pydantic(TensorSpec, keep=("name", "datatype", "shape")),
    }


def _oip_schemas() -> dict[str, Schema]:
    return {
        "ServerMetadata": _object({"name": STRING, "version": STRING, "extensions": {"type": "array", "items": STRING}},
                                  ("name", "version", "extensions")),
        "ModelMetadata": _object({
            "name": STRING, "versions": {"type": "array", "items": STRING}, "platform": STRING,
            "inputs": {"type": "array", "items": ref("MetadataTensor")},
            "outputs": {"type": "array", "items": ref("MetadataTensor")},
            "parameters": _object({}, description="slogate's: backend, feature_names, baseline, traffic, "
                                                  "load_seconds, served, scaled_to_zero"),
        }, ("name", "versions", "platform", "inputs", "outputs")),
        "Live": _object({"live": BOOLEAN}, ("live",)),
        "ServerReady": _object({"ready": BOOLEAN, "error": STRING, "field": {"type": ["string", "null"]}}, ("ready",)),
        "ModelReady": _object({"name": STRING, "version": STRING, "ready": BOOLEAN, "scaled_to_zero": BOOLEAN,
                               "error": STRING, "field": {"type": ["string", "null"]}}, ("name", "ready")),
        "DriftReport": ANY_OBJECT | {"description": "per-feature and prediction drift scores (Wasserstein, KS, JS, "
                                                    "PSI), null below the version's min_rows"},
        "RepositoryIndexRequest": _object({"ready": BOOLEAN}),
        "RepositoryIndex": {"type": "array", "items": _object(
            {"name": STRING, "version": STRING, "state": {"type": "string", "enum": ["READY", "UNAVAILABLE"]},
             "reason": STRING}, ("name", "version", "state", "reason"))},
        "RepositoryLoadRequest": _object({"parameters": _object({"unload_dependents": BOOLEAN},
                                                                additionalProperties=False)}),
        "RepositoryModel": _object({"name": STRING, "versions": ANY_OBJECT, "traffic": ANY_OBJECT},
                                   ("name", "versions", "traffic")),
    }


def _openai_schemas() -> dict[str, Schema]:
    """What openai_api.parse_request accepts: one prompt or one conversation, n=1, text content only."""
    sampling = {
        "model": {"type": "string", "minLength": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "seed": INTEGER,
        "n": {"type": "integer", "enum": [1]},
        "stop": {"oneOf": [STRING, {"type": "array", "items": {"type": "string", "minLength": 1}}]},
        "ignore_eos": BOOLEAN,
        "stream": BOOLEAN,
        "stream_options": _object({"include_usage": BOOLEAN}),
    }
    text_part = _object({"type": {"type": "string", "enum": ["text"]}, "text": STRING}, ("type", "text"))
    message = _object({"role": {"type": "string", "enum": list(ROLES)},
                       "content": {"oneOf": [STRING, {"type": "array", "items": text_part}]}}, ("role", "content"))
    prompt = {"oneOf": [STRING, {"type": "array", "items": STRING, "minItems": 1, "maxItems": 1}]}
    return {
        "CompletionRequest": _object({**sampling, "prompt": prompt}, ("model", "prompt")),
        "ChatCompletionRequest": _object({**sampling, "messages": {"type": "array", "items": message, "minItems": 1},
                                          "max_completion_tokens": {"type": "integer", "minimum": 1}},
                                         ("model", "messages")),
        "Completion": _object({"id": STRING, "object": STRING, "created": INTEGER, "model": STRING,
                               "choices": {"type": "array"}, "usage": ANY_OBJECT}, ("id", "object", "model", "choices")),
        "StreamEvent": _object({"data": {"type": "string", "description": "a chunk (JSON: chat.completion.chunk or "
                                  "text_completion; the last one with usage when asked), an error object, or [DONE]"}},
                               ("data",), description="one server-sent event of a streamed reply"),
        "ModelList": _object({"object": STRING, "data": {"type": "array", "items": _object(
            {"id": STRING, "object": STRING, "owned_by": STRING, "max_model_len": INTEGER}, ("id",))}},
                             ("object", "data")),
    }


def _admin_schemas() -> dict[str, Schema]:
    return {
        "FaultRequest": _pydantic(FaultRequest),
        "TrafficRequest": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "number", "minimum": 0},
                           "description": 'version -> weight, e.g. {"1": 90, "2": 10}'},
        "ScalingRequest": _object({"idle_unload_s": {"type": ["number", "null"], "exclusiveMinimum": 0}},
                                  ("idle_unload_s",)),
        "AdminAnswer": ANY_OBJECT,
    }


def component_schemas() -> dict[str, Schema]:
    error = _object({"error": STRING, "field": {"type": ["string", "null"],
                                                "description": "the offending field, e.g. inputs[0].shape"}},
                    ("error", "field"))
    return {"Error": error, **_tensor_schemas(), **_oip_schemas(), **_openai_schemas(), **_admin_schemas()}
