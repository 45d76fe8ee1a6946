"""Running the app on uvicorn (uvloop + httptools) with a graceful SIGTERM drain."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

from .app import ReferenceApp, create_app
from .config import CONFIG_ENV, ServerConfig

log = logging.getLogger("reference_server")


class DrainingServer(uvicorn.Server):
    """uvicorn.Server that flips readiness to 503 on the first signal and exits 0 after draining.

    Stock uvicorn re-raises the captured signal after shutdown, so a SIGTERM'd server dies
    with -15; a graceful drain is a clean exit, so we record nothing to re-raise.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = _reference_app(getattr(self.config, "loaded_app", None))
        if app is not None:
            app.begin_drain()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl+C: stop waiting for in-flight requests
        else:
            self.should_exit = True


def _reference_app(app: object) -> ReferenceApp | None:
    """Find our app under any middleware uvicorn wrapped around it."""
    for _ in range(8):
        if isinstance(app, ReferenceApp) or app is None:
            return app
        app = getattr(app, "app", None)
    return None


def uvicorn_config(config: ServerConfig, app: ReferenceApp | str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        host=config.host,
        port=config.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        workers=config.workers,
        access_log=config.access_log,
        proxy_headers=False,  # loopback reference server: no proxy to trust, and one less wrapper per request
        server_header=False,
        date_header=False,
        log_level=config.log_level,
        timeout_graceful_shutdown=config.drain_timeout_s,  # type: ignore[arg-type]
        timeout_keep_alive=30,
        ssl_certfile=config.tls_cert,
        ssl_keyfile=config.tls_key,
    )


def serve(config: ServerConfig) -> None:
    if config.workers == 1:
        DrainingServer(uvicorn_config(config, create_app(config))).run()
        return
    # Each worker builds its own app from the config; admin state (traffic, faults) and
    # /metrics are per worker process, so run one worker when those matter. uvicorn's
    # supervisor runs stock servers in the workers: SIGTERM still stops accepting and drains
    # in-flight requests, but readiness does not answer 503 first.
    log.warning("--workers %d: admin changes and /metrics apply to whichever worker answers", config.workers)
    os.environ[CONFIG_ENV] = config.to_json()
    uv_config = uvicorn_config(config, "reference_server.app:app_from_env")
    Multiprocess(uv_config, sockets=[uv_config.bind_socket()]).run()
