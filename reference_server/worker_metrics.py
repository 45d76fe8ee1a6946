"""`--workers N`: /metrics answers for the whole server, whichever worker process takes the scrape.

Each worker serves its own exposition on a Unix socket in the supervisor's directory
(workers_dir.py); the worker scraped reads every other worker's and merges them
with its own (exposition_merge.py).

Why not prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): its values live in
per-process files that hold whatever each process last wrote, and a series once written stays.
Here some gauges are sampled at scrape time (in flight, queue depth, the drift scores), so
every worker but the scraped one would report stale values; and series are removed on purpose
(`slogate_model_served_on` at unload, the drift gauges rebuilt at every scrape), which the
multiprocess files cannot do. Asking each worker for its exposition keeps the one-process
semantics of every metric. What a worker that died had counted leaves the sums with it (a
counter reset to Prometheus's rate(), as when a one-worker server restarts).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from .exposition_merge import merge_expositions
from .metrics import ACROSS_WORKERS
from .workers_dir import SOCKETS

PEER_TIMEOUT_S = 2.0  # a worker too busy to answer within this is left out of the scrape


class WorkerExpositions:
    def __init__(self, directory: Path, render: Callable[[], Awaitable[bytes]]) -> None:
        self._dir = directory / SOCKETS
        self._own = self._dir / f"{os.getpid()}.sock"
        self._render = render
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._dir.mkdir(exist_ok=True)
        self._server = await asyncio.start_unix_server(self._answer, path=str(self._own))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._own.unlink(missing_ok=True)

    async def scrape(self) -> bytes:
        """Every worker's exposition merged with this one's."""
        own = await self._render()
        peers = [path for path in self._dir.glob("*.sock") if path != self._own]
        theirs = await asyncio.gather(*(self._read(path) for path in peers))
        return merge_expositions([own, *(text for text in theirs if text is not None)], ACROSS_WORKERS)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(await self._render())
            await writer.drain()
        finally:
            writer.close()

    async def _read(self, path: Path) -> bytes | None:
        try:
            async with asyncio.timeout(PEER_TIMEOUT_S):
                reader, writer = await asyncio.open_unix_connection(str(path))
                text = await reader.read()
                writer.close()
                return text
        except ConnectionRefusedError:  # its worker died without closing: nobody listens there any more
            path.unlink(missing_ok=True)
        except (OSError, TimeoutError):
            pass  # gone meanwhile, or too busy: this scrape goes without it
        return None
