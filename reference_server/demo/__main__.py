"""`python -m reference_server.demo [--cache-dir DIR]`: build the demo repository unless an
up-to-date one is there, and print its path: to build it ahead of a server start (an image
layer), or to copy it (slogate's `target.private_repo`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import ServerConfig, configure_logging
from .repository import ensure_demo_repo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_server.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=ServerConfig().cache_dir,
                        help="where the demo repository is built (the server's --cache-dir)")
    args = parser.parse_args(argv)
    configure_logging("warning")  # stdout carries the path alone
    print(ensure_demo_repo(args.cache_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
