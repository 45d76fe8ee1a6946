"""Starting MLServer on a one-model repository written for the run, as `mlserver start` does.

Shared by the MLServer peers (mlserver_fraud.py, mlserver_schema.py), which run as scripts
under the peer venv's python, so this module sits beside them on sys.path. MLServer starts in
this process (uvloop policy, then MLServer(settings).start), so SIGTERM and SIGINT reach its
own handlers. The server settings are mlserver_fraud.py's, explained there.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
from pathlib import Path
from typing import Any

from mlserver import MLServer
from mlserver.cli.serve import load_settings
from mlserver.logging import configure_logger
from mlserver.utils import install_uvloop_event_loop

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def write_repository(folder: Path, model_settings: dict[str, Any], port: int, grpc_port: int | None = None) -> None:
    settings = {"host": LOOPBACK, "http_port": port, "grpc_port": grpc_port or free_port(), "metrics_endpoint": None,
                "debug": False, "parallel_workers": 0}
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    # In a folder named after the model: MLServer warns when the two differ.
    (folder / model_settings["name"]).mkdir()
    (folder / model_settings["name"] / "model-settings.json").write_text(json.dumps(model_settings, indent=2))


def serve_model(model_settings: dict[str, Any], port: int, grpc_port: int | None = None) -> None:
    """Serve one model until a signal stops MLServer."""
    with tempfile.TemporaryDirectory(prefix=f"mlserver-{model_settings['name']}-") as folder:
        write_repository(Path(folder), model_settings, port, grpc_port)
        configure_logger()
        install_uvloop_event_loop()
        asyncio.run(_serve(Path(folder)))


async def _serve(folder: Path) -> None:
    settings, models_settings = await load_settings(str(folder))
    await MLServer(settings).start(models_settings)
