"""Toxiproxy's toxics in harness.netfault: their models, and what each does to real loopback
connections through an in-process proxy in front of an echo server.

Every coroutine runs under a deadline; the timing bounds are one-sided where the toxic
promises a floor (a delay is at least its latency) and loose where it promises nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest

from harness.netfault.proxy import Proxy, parse_address
from harness.netfault.toxics import TOXICS, Latency, SlicerStage, ToxicError, parse_toxic
from netfault_support import HOST, echo, run_bounded

DEADLINE_S = 10.0


def run(coroutine):
    return run_bounded(coroutine, DEADLINE_S)


@asynccontextmanager
async def echo_proxy(*toxics: dict, seed: int = 7) -> AsyncIterator[tuple[Proxy, tuple[str, int]]]:
    """A proxy with `toxics` in front of an echo server; yields it and its address."""
    server = await asyncio.start_server(echo, HOST, 0)
    proxy = Proxy("test", f"{HOST}:0", f"{HOST}:{server.sockets[0].getsockname()[1]}", rng=random.Random(seed))
    for toxic in toxics:
        proxy.add_toxic(parse_toxic(toxic))
    await proxy.start()
    try:
        yield proxy, parse_address(proxy.listen)
    finally:
        await proxy.stop()
        server.close()
        await server.wait_closed()


async def round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"ping") -> float:
    started = time.perf_counter()
    writer.write(payload)
    assert await reader.readexactly(len(payload)) == payload
    return time.perf_counter() - started


# --- the models -------------------------------------------------------------------------


def test_a_toxic_reads_the_same_flat_or_nested_under_attributes() -> None:
    flat = parse_toxic({"type": "latency", "latency": 200, "jitter": 50, "toxicity": 0.5, "stream": "downstream"})
    nested = parse_toxic({"type": "latency", "toxicity": 0.5, "stream": "downstream",
                          "attributes": {"latency": 200, "jitter": 50}})
    assert flat == nested and isinstance(flat, Latency)
    assert flat.to_api() == {"name": "latency_downstream", "type": "latency", "stream": "downstream",
                             "toxicity": 0.5, "attributes": {"latency": 200, "jitter": 50}}
    assert parse_toxic(flat.to_api()) == flat
    assert Latency(latency=5, stream="upstream").name == "latency_upstream"
    assert TOXICS.names() == ["bandwidth", "latency", "limit_data", "reset_peer", "slicer", "slow_close", "timeout"]
    assert TOXICS.entry("latency").args is Latency


@pytest.mark.parametrize(("data", "named"), [
    ({"type": "latncy", "latency": 5}, "type: unknown toxic 'latncy'; did you mean 'latency'?"),
    ({"latency": 5}, "type: missing"),
    ({"type": "latency", "latency": -1}, "latency:"),
    ({"type": "latency", "attributes": {"lattency": 5}}, "lattency:"),
    ({"type": "latency", "latency": 5, "attributes": {"latency": 6}}, "latency given both"),
    ({"type": "latency", "toxicity": 1.5}, "toxicity:"),
    ({"type": "latency", "stream": "sideways"}, "stream:"),
    ({"type": "bandwidth", "rate": "fast"}, "rate:"),
    ({"type": "slicer", "average_size": 10, "size_variation": 10}, "size_variation must be less than average_size"),
    ({"type": "slicer"}, "average_size:"),
])
def test_a_bad_toxic_names_the_field(data: dict, named: str) -> None:
    with pytest.raises(ToxicError) as caught:
        parse_toxic(data)
    assert named in str(caught.value)


def test_slicer_cuts_cover_the_chunk_within_the_variation() -> None:
    stage = SlicerStage(parse_toxic({"type": "slicer", "average_size": 100, "size_variation": 30}),
                        SimpleNamespace(rng=random.Random(3)))
    cuts = stage.cuts(0, 10_000)
    assert cuts[0][0] == 0 and cuts[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    assert all(0 < end - start <= 130 for start, end in cuts)
    assert 10_000 / 130 <= len(cuts) <= 10_000 / 35


# --- what each toxic does on the wire -------------------------------------------------------


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_delays_each_round_trip_by_about_the_latency(stream: str) -> None:
    async def go() -> list[float]:
        async with echo_proxy({"type": "latency", "latency": 100, "stream": stream}) as (_, address):
            reader, writer = await asyncio.open_connection(*address)
            return [await round_trip(reader, writer) for _ in range(3)]

    for elapsed in run(go()):
        assert 0.09 <= elapsed < 0.5


def test_jitter_spreads_the_delays_within_latency_plus_or_minus_jitter() -> None:
    async def go() -> list[float]:
        async with echo_proxy({"type": "latency", "latency": 30, "jitter": 25}) as (_, address):
            reader, writer = await asyncio.open_connection(*address)
            return [await round_trip(reader, writer) for _ in range(30)]

    delays = run(go())
    assert min(delays) >= 0.004 and max(delays) < 0.15
    assert max(delays) - min(delays) >= 0.02


@pytest.mark.parametrize(("toxicity", "low", "high"), [(0.0, 0, 0), (1.0, 200, 200), (0.3, 30, 90)])
def test_toxicity_is_the_share_of_connections_hit(toxicity: float, low: int, high: int) -> None:
    """0.3 of 200: mean 60, sd 6.5; 30..90 is ±4.6 sd, as a fair coin would fail once in 10^5."""

    async def go() -> int:
        async with echo_proxy({"type": "latency", "latency": 200, "toxicity": toxicity}) as (_, address):
            connections = [await asyncio.open_connection(*address) for _ in range(200)]
            delays = await asyncio.gather(*(round_trip(r, w) for r, w in connections))
            for _, writer in connections:
                writer.close()
        return sum(delay > 0.1 for delay in delays)

    assert low <= run(go()) <= high


def test_a_toxic_added_later_reaches_an_open_connection_and_removing_it_restores_speed() -> None:
    async def go() -> tuple[float, float, float, float]:
        async with echo_proxy() as (proxy, address):
            reader, writer = await asyncio.open_connection(*address)
            before = await round_trip(reader, writer)
            proxy.add_toxic(parse_toxic({"type": "latency", "latency": 150}))
            with_toxic = await round_trip(reader, writer)
            proxy.remove_toxic("latency_downstream")
            after = await round_trip(reader, writer)
            proxy.add_toxic(parse_toxic({"type": "latency", "latency": 5000}))
            writer.write(b"held")
            await asyncio.sleep(0.05)  # the echo is now held by the toxic, not an assertion
            started = time.perf_counter()
            proxy.remove_toxic("latency_downstream")
            assert await reader.readexactly(4) == b"held"
            return before, with_toxic, after, time.perf_counter() - started

    before, with_toxic, after, released = run(go())
    assert before < 0.05 and with_toxic >= 0.135 and after < 0.05
    assert released < 1.0  # removing the toxic let the chunk it held go at once


def test_bandwidth_paces_the_stream_at_its_rate() -> None:
    payload = os.urandom(40_000)

    async def go() -> float:
        async with echo_proxy({"type": "bandwidth", "rate": 100}) as (_, address):  # 100 KB/s
            reader, writer = await asyncio.open_connection(*address)
            started = time.perf_counter()
            writer.write(payload)
            assert await reader.readexactly(len(payload)) == payload
            return time.perf_counter() - started

    assert 0.9 * 0.4 <= run(go()) < 2.0  # 40,000 bytes at 100,000 bytes/s


def _count_reads(*toxics: dict) -> int:
    payload = os.urandom(4000)

    async def go() -> int:
        async with echo_proxy(*toxics) as (_, address):
            reader, writer = await asyncio.open_connection(*address)
            writer.write(payload)
            received = []
            while sum(map(len, received)) < len(payload):
                received.append(await reader.read(65536))
                assert received[-1], "the connection closed early"
            assert b"".join(received) == payload
            return len(received)

    return run(go())


def test_slicer_delivers_the_same_bytes_in_more_pieces() -> None:
    plain = _count_reads()
    sliced = _count_reads({"type": "slicer", "average_size": 200, "size_variation": 50, "delay": 2000})
    assert sliced >= 8 and sliced > plain


def test_limit_data_closes_the_connection_after_its_bytes() -> None:
    payload = os.urandom(3000)

    async def go() -> bytes:
        async with echo_proxy({"type": "limit_data", "bytes": 1000}) as (_, address):
            reader, writer = await asyncio.open_connection(*address)
            writer.write(payload)
            return await reader.read()  # to EOF

    assert run(go()) == payload[:1000]


def test_timeout_zero_holds_the_connection_open_and_drops_the_data() -> None:
    async def go() -> tuple[int, bytes]:
        async with echo_proxy({"type": "timeout", "timeout": 0}) as (proxy, address):
            reader, writer = await asyncio.open_connection(*address)
            writer.write(b"ping")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(10), 0.3)
            open_while_held = proxy.stats()["active"]
            proxy.remove_toxic("timeout_downstream")  # as Toxiproxy: the stream it cut is closed
            return open_while_held, await reader.read()

    open_while_held, rest = run(go())
    assert open_while_held == 1 and rest == b""


def test_timeout_closes_the_connection_after_the_timeout_without_data() -> None:
    async def go() -> tuple[bytes, float]:
        async with echo_proxy({"type": "timeout", "timeout": 200}) as (_, address):
            reader, writer = await asyncio.open_connection(*address)
            started = time.perf_counter()
            writer.write(b"ping")
            return await reader.read(), time.perf_counter() - started

    data, elapsed = run(go())
    assert data == b"" and 0.18 <= elapsed < 1.0


@pytest.mark.parametrize("timeout_ms", [0, 150])
def test_reset_peer_resets_the_client_after_its_timeout(timeout_ms: int) -> None:
    async def go() -> tuple[float, int]:
        async with echo_proxy({"type": "reset_peer", "timeout": timeout_ms}) as (proxy, address):
            reader, writer = await asyncio.open_connection(*address)
            started = time.perf_counter()
            writer.write(b"ping")
            with pytest.raises(ConnectionResetError):
                await reader.read(10)
            return time.perf_counter() - started, proxy.stats()["resets"]

    elapsed, resets = run(go())
    assert resets == 1 and 0.9 * timeout_ms / 1000 <= elapsed < timeout_ms / 1000 + 0.5


def test_slow_close_delays_the_end_of_the_stream() -> None:
    async def go() -> float:
        async with echo_proxy({"type": "slow_close", "delay": 200}) as (_, address):
            reader, writer = await asyncio.open_connection(*address)
            await round_trip(reader, writer)
            started = time.perf_counter()
            writer.write_eof()  # the echo server closes in turn; the toxic holds that close
            assert await reader.read() == b""
            return time.perf_counter() - started

    assert 0.18 <= run(go()) < 1.0
