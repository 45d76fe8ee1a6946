"""The lean HTTP/1.1 pool's callback path against real loopback servers: every exchange
ends exactly once, with a response, a timeout from the deadline sweep, a reset, or a cancel."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.clients.http1 import SWEEP_S, Http1Pool, Origin, Response, render_post

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def _serve(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.readuntil(b"\r\n\r\n"):
        await reader.readexactly(2)
        writer.write(OK)


async def _never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1 << 16)
    await asyncio.sleep(30)


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1 << 16)
    writer.close()


async def _exchange(handler, timeout_s: float = 5.0, then=None) -> tuple[list, float, int]:
    """(every result on_done got, seconds to the first, idle connections after)."""
    server, port = await _serve(handler)
    pool = Http1Pool(Origin.parse(f"http://127.0.0.1:{port}"))
    request = render_post(pool.origin, "/x", b"{}", {})
    results: list = []
    done = asyncio.Event()

    def on_done(result) -> None:
        results.append(result)
        done.set()

    started = time.perf_counter()
    try:
        await pool.prewarm(1, timeout_s)
        pool.start(request, timeout_s, on_done)
        if then is not None:
            await asyncio.sleep(0.05)
            then(pool)
        await asyncio.wait_for(done.wait(), timeout_s + 2)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.05)  # a second call would land here
        return results, elapsed, len(pool._idle)
    finally:
        pool.close()
        server.close()


def test_an_answered_exchange_returns_its_connection_to_the_pool() -> None:
    results, _, idle = asyncio.run(_exchange(_answer))
    (response,) = results
    assert isinstance(response, Response) and response.status == 200 and response.body == b"{}"
    assert idle == 1
    assert response.first_byte_ns <= response.done_ns


def test_no_answer_times_out_by_the_sweep_within_its_period() -> None:
    results, elapsed, _ = asyncio.run(_exchange(_never_answer, timeout_s=0.3))
    (error,) = results
    # never before the deadline; the upper bound only proves the sweep fired (this box stalls for seconds)
    assert isinstance(error, TimeoutError)
    assert 0.3 <= elapsed <= 0.3 + SWEEP_S + 2.0


def test_a_hang_up_ends_the_exchange_once() -> None:
    results, _, _ = asyncio.run(_exchange(_hang_up))
    (error,) = results
    assert isinstance(error, ConnectionError)


def test_abort_cancels_what_is_in_flight() -> None:
    results, elapsed, _ = asyncio.run(_exchange(_never_answer, timeout_s=5.0, then=Http1Pool.abort))
    (error,) = results
    assert isinstance(error, asyncio.CancelledError) and elapsed < 4.0  # the abort, not the 5 s deadline


def test_a_refused_connection_is_the_exchanges_outcome() -> None:
    async def refused() -> list:
        server, port = await _serve(_answer)
        server.close()
        await server.wait_closed()
        pool = Http1Pool(Origin.parse(f"http://127.0.0.1:{port}"))
        future = asyncio.get_running_loop().create_future()
        pool.start(render_post(pool.origin, "/x", b"{}", {}), 1.0, future.set_result)
        return [await asyncio.wait_for(future, 3)]

    (error,) = asyncio.run(refused())
    assert isinstance(error, OSError)


@pytest.mark.parametrize("handler", [_answer, _never_answer])
def test_the_coroutine_path_agrees(handler) -> None:
    async def go():
        server, port = await _serve(handler)
        pool = Http1Pool(Origin.parse(f"http://127.0.0.1:{port}"))
        try:
            return await pool.request(render_post(pool.origin, "/x", b"{}", {}), 0.2)
        except TimeoutError as exc:
            return exc
        finally:
            pool.close()
            server.close()

    result = asyncio.run(go())
    assert isinstance(result, Response if handler is _answer else TimeoutError)
