"""The lean HTTP/1.1 pool's callback path against real loopback servers: every exchange
ends exactly once, with a response, a timeout stamped at its deadline, a reset, or a cancel."""

from __future__ import annotations

import asyncio
import queue
import threading
import time

import pytest

from harness.clients.exchange import outcome_of
from harness.clients.http1 import SWEEP_S, DeadlineExceeded, Http1Pool, Origin, Response, render_post

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


def _answer_after(delay_s: float):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        await asyncio.sleep(delay_s)
        writer.write(OK)
        await asyncio.sleep(5)

    return handler


def test_an_answer_after_the_deadline_is_a_timeout_stamped_at_the_deadline(monkeypatch) -> None:
    """The sweep is made too slow to see it: only the deadline itself can judge this answer."""
    monkeypatch.setattr("harness.clients.http1.SWEEP_S", 30.0)

    async def go() -> tuple[object, int]:
        server, port = await _serve(_answer_after(0.3))
        pool = Http1Pool(Origin.parse(f"http://127.0.0.1:{port}"))
        future = asyncio.get_running_loop().create_future()
        sent_ns = time.perf_counter_ns()
        pool.start(render_post(pool.origin, "/x", b"{}", {}), 0.1, future.set_result)
        try:
            return await asyncio.wait_for(future, 5), sent_ns
        finally:
            pool.close()
            server.close()

    result, sent_ns = asyncio.run(go())
    assert isinstance(result, DeadlineExceeded)
    assert 0 <= result.at_ns - sent_ns - 100_000_000 < 5_000_000  # the deadline, not when the answer came
    outcome = outcome_of(result, lambda body: None)
    assert outcome.error_kind == "timeout" and outcome.done_ns == result.at_ns


def test_the_sweep_stamps_a_timeout_at_its_deadline() -> None:
    results, _, _ = asyncio.run(_exchange(_never_answer, timeout_s=0.3))
    (error,) = results
    assert isinstance(error, DeadlineExceeded) and outcome_of(error, lambda body: None).done_ns == error.at_ns


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed(monkeypatch) -> None:
    """A server's keep-alive timeout closes an idle connection; the next request must not see a reset.

    The server runs in a thread of its own, and the client's loop is blocked while the server
    closes, so the close is still unread when the connection is reused: the race a busy
    generator meets."""
    monkeypatch.setattr("harness.clients.http1.STALE_RISK_NS", 100_000_000)
    port = _serve_in_a_thread(keep_alive_s=0.2)

    async def go() -> tuple[list, int]:
        pool = Http1Pool(Origin.parse(f"http://127.0.0.1:{port}"))
        request = render_post(pool.origin, "/x", b"{}", {})
        try:
            first = await pool.request(request, 2.0)
            time.sleep(0.6)
            second = await pool.request(request, 2.0)
            return [first, second], pool.stale_replaced
        finally:
            pool.close()

    responses, replaced = asyncio.run(go())
    assert [r.status for r in responses] == [200, 200] and replaced == 1


def _serve_in_a_thread(keep_alive_s: float) -> int:
    """A keep-alive server on its own loop and thread that closes a connection idle for `keep_alive_s`."""
    ready: queue.Queue[int] = queue.Queue()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), keep_alive_s)
            except (TimeoutError, asyncio.IncompleteReadError):
                writer.close()
                return
            await reader.readexactly(2)
            writer.write(OK)

    async def main() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        ready.put(server.sockets[0].getsockname()[1])
        await asyncio.sleep(10)

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    return ready.get(timeout=5)
