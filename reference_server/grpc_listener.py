"""The gRPC listener beside uvicorn's (--grpc-port): a grpc.aio server on the app's event loop,
started and stopped by the app's lifespan, serving the OIP front's gRPC twin (fronts/oip_grpc.py)."""

from __future__ import annotations

import grpc

from .fronts.oip import OipFront
from .fronts.oip_grpc import OipGrpcFront
from .state import ServerState


class GrpcBindError(RuntimeError):
    """The gRPC port could not be bound (taken, or not an address of this host)."""


async def start_grpc(state: ServerState, oip: OipFront) -> grpc.aio.Server:
    config = state.config
    assert config.grpc_port is not None
    server = grpc.aio.server(options=[
        # the body limit HTTP applies; beyond it gRPC itself answers RESOURCE_EXHAUSTED
        ("grpc.max_receive_message_length", config.max_body_bytes),
        # workers (--workers > 1) share the port as they share uvicorn's socket; one server alone
        # must fail to bind a taken port rather than split its calls with a stranger
        ("grpc.so_reuseport", int(config.workers > 1)),
    ])
    server.add_generic_rpc_handlers((OipGrpcFront(state, oip).handler(),))
    address = grpc_address(config.host, config.grpc_port)
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        raise GrpcBindError(f"--grpc-port: cannot listen on {address}: {exc}") from None
    await server.start()
    return server


def grpc_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
