"""The Serve deployment: every replica builds the reference app from the server's config.

The app is the one uvicorn runs (app.py), wrapped so that Serve sends a replica nothing until
it is ready: its lifespan startup, which Serve awaits before it counts the replica as
running, completes only once the models are loaded and warm and the admin log is replayed
(broadcast.py). A replica Serve starts to replace a killed one thus joins with the same
traffic split and faults as the others, and its loading shows in the harness as the time
Ray took to replace it, not as failed requests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ray
from ray import serve

from ..app import ReferenceApp, create_app
from ..asgi import Message, Receive, Scope, Send
from ..config import ServerConfig, configure_logging
from ..worker_nonces import SharedNonces
from .broadcast import ReplicaLink
from .control import NAME, NAMESPACE

APP = "slogate"
DEPLOYMENT = "reference"
LOADED_POLL_S = 0.05


async def serve_counts(config: ServerConfig) -> dict[str, Any]:
    """Serve's view of the deployment: its replica target and how many replicas are running."""
    status = await asyncio.to_thread(serve.status)
    application = status.applications.get(APP)
    deployment = application.deployments.get(DEPLOYMENT) if application is not None else None
    states = dict(deployment.replica_states) if deployment is not None else {}
    return {"engine": "ray", "min_replicas": config.min_replicas, "max_replicas": config.max_replicas,
            "running": states.get("RUNNING", 0), "states": {str(k): v for k, v in states.items()}}


class ReadyGate:
    """The replica's ASGI app: the reference app, its lifespan startup held until the replica is ready."""

    def __init__(self, app: ReferenceApp, link: ReplicaLink) -> None:
        self.app, self.link = app, link

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def receive_leaving() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.link.leave()
            return message

        async def send_when_ready(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                while not self.app.state.loaded:
                    await asyncio.sleep(LOADED_POLL_S)
                await self.link.join()
            await send(message)

        await self.app(scope, receive_leaving, send_when_ready)


@serve.ingress()
class ReferenceReplica:
    """One replica. Serve constructs it with the config as JSON (what `--workers` hands its processes)
    and the driver's directory of shared state (the HMAC nonces)."""

    async def __init__(self, config_json: str, shared_dir: str) -> None:
        config = ServerConfig.from_json(config_json)
        configure_logging(config.log_level)
        self.reference = create_app(config, nonces=SharedNonces(Path(shared_dir)))
        replica = serve.get_replica_context().replica_id.unique_id
        control = ray.get_actor(NAME, namespace=NAMESPACE)
        self.link = ReplicaLink(control, replica, ray.get_runtime_context().get_node_id(), self.reference,
                                lambda: serve_counts(config))
        self.link.install()

    def __serve_build_asgi_app__(self) -> ReadyGate:
        return ReadyGate(self.reference, self.link)


def deployment_options(config: ServerConfig, max_ongoing_requests: int) -> dict[str, Any]:
    """A fixed replica count, or Serve's autoscaling between --replicas MIN-MAX."""
    scaling: dict[str, Any] = {"num_replicas": config.min_replicas}
    if config.max_replicas > config.min_replicas:
        scaling = {"autoscaling_config": {"min_replicas": config.min_replicas, "max_replicas": config.max_replicas}}
    return {"name": DEPLOYMENT, "max_ongoing_requests": max_ongoing_requests,
            "graceful_shutdown_timeout_s": config.drain_timeout_s,
            # The replica's CPU use is --torch-threads; Ray's CPU count would only cap how many fit.
            "ray_actor_options": {"num_cpus": 0}, **scaling}


def application(config: ServerConfig, max_ongoing_requests: int, shared_dir: str) -> Any:
    options = deployment_options(config, max_ongoing_requests)
    return serve.deployment(**options)(ReferenceReplica).bind(config.to_json(), shared_dir)
