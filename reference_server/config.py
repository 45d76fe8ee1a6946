"""Server configuration: the CLI surface and the derived settings."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

CONFIG_ENV = "SLOGATE_SERVER_CONFIG"  # how --workers > 1 hands the config to worker processes
DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("uvicorn", "ray")  # what runs the app: uvicorn processes, or Ray Serve replicas (ray_engine/)


@dataclass(frozen=True)
class ServerConfig:
    model_repo: Path | None = None
    cache_dir: Path = Path(platformdirs.user_cache_dir("slogate"))
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int | None = None  # the OIP v2 gRPC service on this port too (fronts/oip_grpc.py); None: off
    device: str = "auto"
    api_keys_file: Path | None = None
    admin_token_file: Path | None = None
    hmac_secret_file: Path | None = None
    insecure: bool = False
    workers: int = 1
    engine: str = "uvicorn"
    min_replicas: int = 1  # --engine ray: Serve's replica count, or its autoscaling range when max > min
    max_replicas: int = 1
    max_body_bytes: int = 4 * 1024 * 1024
    drain_timeout_s: float = 10.0
    backlog: int = 2048  # the listen queue: connections the kernel holds that the server has not accepted yet
    log_level: str = "info"
    protect_health: bool = False
    protect_metrics: bool = False
    access_log: bool = False
    torch_threads: int = max(1, (os.cpu_count() or 2) // 2)
    models: list[str] | None = None  # load only these models of the repository at start
    verify_artifacts: bool = True  # check each artifact's sha256 against its model.json before loading it
    feature_store: str | None = None  # redis://host:port of the online feature store (features.py)
    tls_cert: Path | None = None  # PEM certificate chain: serve HTTPS (uvicorn's ssl_certfile)
    tls_key: Path | None = None  # its PEM private key

    def to_json(self) -> str:
        return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        raw = json.loads(text)
        paths = {f.name for f in dataclasses.fields(cls) if "Path" in str(f.type)}
        return cls(**{k: (Path(v) if k in paths and v is not None else v) for k, v in raw.items()})


def configure_logging(level: str) -> None:
    """The server's own log lines (load, refusals, ready, drain); each worker process calls it too."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname other than localhost may resolve anywhere


def check_bind_policy(config: ServerConfig) -> None:
    """Refuse to expose an unauthenticated server beyond loopback."""
    if not is_loopback(config.host) and config.api_keys_file is None and not config.insecure:
        raise SystemExit(
            f"refusing to bind {config.host} without --api-keys; pass --insecure to override"
        )


def resolve_device(requested: str, cuda_available: bool) -> str:
    """auto → cuda when torch sees one, else cpu; an explicit cuda without one is an error."""
    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    if requested == "cuda" and not cuda_available:
        raise ValueError("--device cuda requested but torch.cuda.is_available() is false")
    return requested


def build_parser() -> argparse.ArgumentParser:
    d = ServerConfig()
    p = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="slogate reference model server (OIP v2 REST, versions, batching, faults).",
    )
    p.add_argument("--model-repo", type=Path, help="model repository; default: the embedded demo repository")
    p.add_argument("--cache-dir", type=Path, default=d.cache_dir, help="where the demo repository is built")
    p.add_argument("--host", default=d.host)
    p.add_argument("--port", type=int, default=d.port)
    p.add_argument("--grpc-port", type=int, default=None, metavar="PORT",
                   help="also serve the OIP v2 gRPC service (inference.GRPCInferenceService) on this port of "
                        "--host, with the same auth, faults and metrics (default: off)")
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--api-keys", dest="api_keys_file", type=Path, help="file with one API key per line")
    p.add_argument("--admin-token-file", type=Path, help="file holding the /admin bearer token")
    p.add_argument("--hmac-secret-file", type=Path, help="enable HMAC request signing with this secret")
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback bind without API keys")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--engine", choices=ENGINES, default=d.engine,
                   help="uvicorn (default), or ray: Ray Serve replicas of the same app behind Serve's proxy "
                        "(pip install 'slogate[ray]')")
    p.add_argument("--replicas", type=_replicas, default=None, metavar="N|MIN-MAX",
                   help="--engine ray: N replicas, or Serve's autoscaling between MIN and MAX (default 1)")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes)
    p.add_argument("--drain-timeout-s", type=float, default=d.drain_timeout_s)
    p.add_argument("--backlog", type=int, default=d.backlog, metavar="N",
                   help="connections the kernel queues before the server accepts them (default 2048, as "
                        "uvicorn's). Smaller bounds how stale a queued request can get after a stall: "
                        "beyond it, connections are refused at once instead of waiting past the client's timeout")
    p.add_argument("--log-level", default=d.log_level, choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--protect-health", action="store_true", help="health routes require an API key")
    p.add_argument("--protect-metrics", action="store_true", help="/metrics requires an API key")
    p.add_argument("--access-log", action="store_true", help="log one line per request (paths only)")
    p.add_argument("--torch-threads", type=int, default=d.torch_threads)
    p.add_argument("--models", type=_names, default=None, metavar="M1,M2",
                   help="load only these models at start (default: every model in the repository); "
                        "the admin API can load the others later")
    p.add_argument("--no-verify-artifacts", dest="verify_artifacts", action="store_false",
                   help="load artifacts without checking their sha256 against model.json (and without one): "
                        "for a repository whose files change in place; a tampered artifact is then served")
    p.add_argument("--feature-store", metavar="URL", default=None,
                   help="the online feature store, redis://HOST:PORT, for models with a `features` section")
    p.add_argument("--tls-cert", type=Path, default=None, metavar="PEM",
                   help="serve HTTPS with this certificate chain (give --tls-key too); gRPC stays plaintext")
    p.add_argument("--tls-key", type=Path, default=None, metavar="PEM", help="the private key of --tls-cert")
    return p


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("name at least one model")
    return names


def _replicas(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give N or MIN-MAX, e.g. 2 or 1-4")
    bounds = int(match[1]), int(match[2] or match[1])
    if not 1 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 1 <= MIN <= MAX")
    return bounds


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    ns = build_parser().parse_args(argv)
    if ns.workers < 1:
        raise SystemExit("--workers must be >= 1")
    if ns.backlog < 1:
        raise SystemExit("--backlog must be >= 1")
    replicas = ns.__dict__.pop("replicas")
    if ns.engine == "ray":
        _check_ray_options(ns)
        ns.min_replicas, ns.max_replicas = replicas or (1, 1)
    elif replicas is not None:
        raise SystemExit("--replicas: only --engine ray runs replicas (uvicorn has --workers)")
    if (ns.tls_cert is None) != (ns.tls_key is None):
        raise SystemExit("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", ns.tls_cert), ("--tls-key", ns.tls_key)):
        if path is not None and not path.is_file():
            raise SystemExit(f"{flag}: {path} is not a readable file")
    return ServerConfig(**vars(ns))


def _check_ray_options(ns: argparse.Namespace) -> None:
    """What Ray Serve's proxy does not carry: refused before Ray starts."""
    for flag, given in (("--workers", ns.workers != 1), ("--grpc-port", ns.grpc_port is not None),
                        ("--tls-cert", ns.tls_cert is not None), ("--backlog", ns.backlog != ServerConfig.backlog)):
        if given:
            raise SystemExit(f"{flag}: not with --engine ray (Serve's HTTP proxy serves plain HTTP on one port; "
                             "scale with --replicas)")
