"""What the fault-proxy tests share: loopback, a bounded event loop, an echo server."""

from __future__ import annotations

import asyncio

from harness.entry.eventloop import run as run_loop

HOST = "127.0.0.1"


def run_bounded(coroutine, deadline_s: float):
    return run_loop(asyncio.wait_for(coroutine, deadline_s))


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # a reset_peer toxic resets this side too
    finally:
        writer.close()
