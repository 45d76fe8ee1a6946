"""The command line of the demo's shipped data files: `python -m reference_server.demo.<module>
OUT.csv` writes the file again, as the tests check it against what the module renders."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def write_shipped_csv(argv: list[str], module: str, render: Callable[[], str]) -> int:
    if len(argv) != 1:
        print(f"usage: python -m reference_server.demo.{module} OUT.csv", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(render())
    return 0
