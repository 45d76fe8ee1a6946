"""Running the app on uvicorn (uvloop + httptools) with a graceful SIGTERM drain."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.supervisors import Multiprocess

from .config import CONFIG_ENV, ServerConfig
from .workers_dir import SHARED_DIR_ENV, create_journal

if TYPE_CHECKING:
    from .app import ReferenceApp


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
    from .app import ReferenceApp  # imported by then: the server runs it
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
        backlog=config.backlog,
        ssl_certfile=config.tls_cert,
        ssl_keyfile=config.tls_key,
    )


def serve(config: ServerConfig) -> None:
    if config.engine == "ray":
        from .ray_engine.engine import serve_on_ray  # Ray is an optional extra

        serve_on_ray(config)
        return
    if config.workers == 1:
        from .app import create_app  # only here: the supervisor of --workers N serves nothing itself
        DrainingServer(uvicorn_config(config, create_app(config))).run()
        return
    # Each worker builds its own app from the config. Admin changes reach every worker through
    # the journal (worker_sync.py) and /metrics merges every worker's (worker_metrics.py), both
    # in this directory. uvicorn's supervisor runs stock servers in the workers: SIGTERM still
    # stops accepting and drains in-flight requests, but readiness does not answer 503 first.
    with tempfile.TemporaryDirectory(prefix="slogate-workers-") as shared:
        create_journal(Path(shared))
        os.environ[CONFIG_ENV] = config.to_json()
        os.environ[SHARED_DIR_ENV] = shared
        uv_config = uvicorn_config(config, "reference_server.app:app_from_env")
        Multiprocess(uv_config, sockets=[uv_config.bind_socket()]).run()
