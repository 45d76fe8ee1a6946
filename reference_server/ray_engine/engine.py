"""`--engine ray`: a local Ray cluster, the control actor, and the app as a Serve deployment.

This process is the Ray driver: it starts Ray on this machine, the control actor (control.py)
and Serve's HTTP proxy on --host:--port, deploys the replicas (deployment.py), and waits.
SIGTERM or Ctrl-C shuts Serve down, which drains each replica for up to --drain-timeout-s,
then Ray. Ray is an optional extra (`pip install 'slogate[ray]'`); `require_ray` says so
before anything starts.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import tempfile
import threading
from pathlib import Path

from ..config import ServerConfig
from ..workers_dir import create_journal

log = logging.getLogger("reference_server")
# Serve's default (5) lets a replica hold only five requests, so its batcher never sees more;
# the proxy queues the rest. The reference server bounds its own queues (batching.py).
MAX_ONGOING_REQUESTS = 256


def require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        raise SystemExit("--engine ray: Ray is not installed; pip install 'slogate[ray]'")


def serve_on_ray(config: ServerConfig) -> None:
    import ray
    from ray import serve

    from .control import NAME, NAMESPACE, Control
    from .deployment import APP, application

    # Ray runs on this machine only (address="local"), so the replicas share HMAC nonces through a
    # file here as --workers does (worker_nonces.py); the directory goes when the driver exits.
    shared = tempfile.TemporaryDirectory(prefix="slogate-ray-")
    create_journal(Path(shared.name))
    ray.init(address="local", include_dashboard=False, namespace=NAMESPACE, num_cpus=os.cpu_count(),
             logging_level=config.log_level.upper())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # after ray.init, which installs handlers of its own
        signal.signal(sig, lambda *_: stop.set())
    try:
        control = ray.remote(Control).options(name=NAME, namespace=NAMESPACE, num_cpus=0).remote()  # noqa: F841
        # (held: Ray ends an actor whose last handle goes away, and replicas look it up by name)
        serve.start(http_options={"host": config.host, "port": config.port}, proxy_location="HeadOnly",
                    logging_config={"enable_access_log": config.access_log, "log_level": config.log_level.upper()})
        serve.run(application(config, MAX_ONGOING_REQUESTS, shared.name), name=APP, route_prefix="/")
        log.info("slogate reference server ready on http://%s:%d: Ray Serve, %s replicas", config.host, config.port,
                 _replicas(config))
        stop.wait()
        log.info("draining: Serve stops each replica within %.1f s", config.drain_timeout_s)
        serve.shutdown()
    finally:
        ray.shutdown()
        shared.cleanup()


def _replicas(config: ServerConfig) -> str:
    if config.max_replicas == config.min_replicas:
        return str(config.min_replicas)
    return f"{config.min_replicas}-{config.max_replicas} (autoscaling)"
