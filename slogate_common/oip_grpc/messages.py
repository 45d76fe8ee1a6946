"""The OIP v2 gRPC messages, compiled from grpc_predict_v2.proto when this module is first imported.

At import, not at install: protoc (grpcio-tools, in this process, ~10 ms) turns the .proto
beside this file into descriptors, so every checkout works without a build step and nothing
generated is committed.

Into a descriptor pool of our own: tritonclient's generated code (and any Triton or KServe
stub) defines the same `inference.*` names in protobuf's default pool, which refuses a second
definition as a duplicate symbol. Generated service stubs would need the default pool, so
there are none: the server registers a handler per method path, and the client calls the
method paths, both with serialized messages (an HMAC signature covers the request's bytes).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_tools import protoc

PROTO = Path(__file__).with_name("grpc_predict_v2.proto")
PACKAGE = "inference"
SERVICE = f"{PACKAGE}.GRPCInferenceService"


def _compile(proto: Path) -> descriptor_pool.DescriptorPool:
    with tempfile.TemporaryDirectory(prefix="slogate-proto-") as folder:
        descriptors = Path(folder) / "descriptors.pb"
        code = protoc.main(["protoc", f"--proto_path={proto.parent}", f"--descriptor_set_out={descriptors}", proto.name])
        if code != 0:
            raise RuntimeError(f"protoc could not compile {proto} (exit {code}; its errors are above)")
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


_POOL = _compile(PROTO)


def _message(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.{name}"))


ServerLiveRequest = _message("ServerLiveRequest")
ServerLiveResponse = _message("ServerLiveResponse")
ServerReadyRequest = _message("ServerReadyRequest")
ServerReadyResponse = _message("ServerReadyResponse")
ModelReadyRequest = _message("ModelReadyRequest")
ModelReadyResponse = _message("ModelReadyResponse")
ServerMetadataRequest = _message("ServerMetadataRequest")
ServerMetadataResponse = _message("ServerMetadataResponse")
ModelMetadataRequest = _message("ModelMetadataRequest")
ModelMetadataResponse = _message("ModelMetadataResponse")
ModelInferRequest = _message("ModelInferRequest")
ModelInferResponse = _message("ModelInferResponse")
InferTensorContents = _message("InferTensorContents")
InferParameter = _message("InferParameter")


def rpcs() -> list[MethodDescriptor]:
    """The service's methods as the .proto declares them (name, input and output types)."""
    return list(_POOL.FindServiceByName(SERVICE).methods)


def message_class(descriptor: Any) -> Any:
    """The class of a message type of this pool (a method's input_type or output_type)."""
    return message_factory.GetMessageClass(descriptor)


def method_path(rpc: str) -> str:
    """The HTTP/2 path a call of `rpc` goes to: /inference.GRPCInferenceService/<rpc>."""
    return f"/{SERVICE}/{rpc}"

