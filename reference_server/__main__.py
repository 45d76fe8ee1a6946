"""`python -m reference_server`: the slogate reference model server."""

from __future__ import annotations

import dataclasses
import sys

from .config import ServerConfig, check_bind_policy, configure_logging, parse_args
from .demo.repository import ensure_demo_repo
from .ray_engine.engine import require_ray


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    configure_logging(config.log_level)
    check_bind_policy(config)
    if config.engine == "ray":
        require_ray()  # before the demo repository is built
    config = with_model_repo(config)
    from .server import serve  # after the repo build: torch is imported once, by the build or here

    serve(config)
    return 0


def with_model_repo(config: ServerConfig) -> ServerConfig:
    """The config with a model repository: the given one, or the demo one built on first use."""
    if config.model_repo is not None:
        if not config.model_repo.is_dir():
            raise SystemExit(f"--model-repo {config.model_repo}: not a directory")
        return config
    return dataclasses.replace(config, model_repo=ensure_demo_repo(config.cache_dir))


if __name__ == "__main__":
    sys.exit(main())
