"""`python -m harness.netfault`: the control server, in the foreground until SIGTERM or SIGINT.

    python -m harness.netfault [--host 127.0.0.1] [--port 8474] [--ready-file PATH] [--seed N]

`--port 0` picks a free port; `--ready-file` receives the port once the server listens, so
that a parent process can find it. On either signal every proxy and its connections are
closed, then the control listener, and the process exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.netfault.api import make_app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.netfault", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8474, help="the control API's port (0: a free one)")
    parser.add_argument("--ready-file", type=Path, help="where to write the port once listening")
    parser.add_argument("--seed", type=int, help="seed of the toxicity and jitter draws")
    return parser.parse_args(argv)


async def serve(host: str, port: int, ready_file: Path | None, seed: int | None) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    runner = web.AppRunner(make_app(seed), handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        if ready_file is not None:
            _write_atomically(ready_file, f"{bound}\n")
        print(f"netfault control API on http://{host}:{bound}", file=sys.stderr, flush=True)
        await stopping.wait()
    finally:
        await runner.cleanup()  # stops every proxy (the app's cleanup), then the control listener


def _write_atomically(path: Path, text: str) -> None:
    """A reader polling for the file never sees it half-written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        _run(serve(args.host, args.port, args.ready_file, args.seed))
    except OSError as exc:  # the control port is taken, most likely: say so, without a traceback
        print(f"netfault: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
