"""harness.netfault's proxy, control API, client and engine, on real loopback sockets: bytes
pass unchanged, the API validates and answers in Toxiproxy's shapes, and the engine child
process starts, serves and leaves nothing behind, on stop() and on SIGINT alike.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from harness.netfault.api import make_app
from harness.netfault.client import ProxyError, ToxiproxyClient
from harness.netfault.engine import group_alive, start_engine
from harness.netfault.proxy import Proxy, parse_address
from harness.netfault.toxics import Latency
from netfault_support import HOST, echo, run_bounded

DEADLINE_S = 15.0


def run(coroutine):
    return run_bounded(coroutine, DEADLINE_S)


@asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    server = await asyncio.start_server(echo, HOST, 0)
    try:
        yield f"{HOST}:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def control_api() -> AsyncIterator[str]:
    """The control API in this process, on a free port."""
    runner = web.AppRunner(make_app(seed=3), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    try:
        yield f"http://{HOST}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def echoes(listen: str, payload: bytes = b"ping") -> float:
    reader, writer = await asyncio.open_connection(*parse_address(listen))
    started = time.perf_counter()
    writer.write(payload)
    assert await reader.readexactly(len(payload)) == payload
    writer.close()
    return time.perf_counter() - started


def refused(address: tuple[str, int]) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(address)
        except ConnectionRefusedError:
            return True
    return False


# --- the proxy --------------------------------------------------------------------------


def test_bytes_pass_unchanged_both_ways_and_are_counted() -> None:
    payload = os.urandom(1 << 20)

    async def go() -> tuple[bytes, dict]:
        async with echo_server() as upstream:
            proxy = Proxy("echo", f"{HOST}:0", upstream)
            await proxy.start()
            reader, writer = await asyncio.open_connection(*parse_address(proxy.listen))

            async def send() -> None:
                writer.write(payload)
                await writer.drain()
                writer.write_eof()

            sending = asyncio.create_task(send())
            received = await reader.read()  # to EOF: the echo server closes after ours
            await sending
            for _ in range(100):  # the proxy closes both sides once both directions ended
                if not proxy.stats()["active"]:
                    break
                await asyncio.sleep(0.01)
            stats = proxy.stats()
            await proxy.stop()
            return received, stats

    received, stats = run(go())
    assert received == payload
    assert stats == {"connections": 1, "upstream_bytes": len(payload), "downstream_bytes": len(payload),
                     "resets": 0, "active": 0}


def test_http_keep_alive_requests_pass_through_one_connection() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=(await request.read())[::-1])

    async def go() -> tuple[list[bytes], dict]:
        app = web.Application()
        app.router.add_post("/", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, HOST, 0).start()
        proxy = Proxy("http", f"{HOST}:0", f"{HOST}:{runner.addresses[0][1]}")
        await proxy.start()
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
                bodies = []
                for i in range(50):
                    async with session.post(f"http://{proxy.listen}/", data=f"request {i}".encode()) as response:
                        assert response.status == 200
                        bodies.append(await response.read())
            return bodies, proxy.stats()
        finally:
            await proxy.stop()
            await runner.cleanup()

    bodies, stats = run(go())
    assert bodies == [f"request {i}".encode()[::-1] for i in range(50)]
    assert stats["connections"] == 1


def test_a_proxy_whose_upstream_refuses_closes_the_client() -> None:
    async def go() -> bytes:
        with socket.socket() as closed_port:
            closed_port.bind((HOST, 0))
            upstream = f"{HOST}:{closed_port.getsockname()[1]}"  # bound, never listening: refused
            proxy = Proxy("nowhere", f"{HOST}:0", upstream)
            await proxy.start()
            reader, writer = await asyncio.open_connection(*parse_address(proxy.listen))
            writer.write(b"ping")
            data = await reader.read()
            await proxy.stop()
            return data

    assert run(go()) == b""


# --- the control API and the client ---------------------------------------------------------


def test_the_control_api_manages_proxies_and_toxics_in_toxiproxys_shapes() -> None:
    async def go() -> None:
        async with echo_server() as upstream, control_api() as url, ToxiproxyClient(url) as client:
            assert await client.version()
            listen = await client.create_proxy("echo", f"{HOST}:0", upstream)
            assert parse_address(listen)[1] != 0
            assert await client.proxies() == {"echo": {"name": "echo", "listen": listen, "upstream": upstream,
                                                       "enabled": True, "toxics": []}}
            assert await client.add_toxic("echo", Latency(latency=100)) == {
                "name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0,
                "attributes": {"latency": 100, "jitter": 0}}
            assert await echoes(listen) >= 0.09
            with pytest.raises(ProxyError, match="409 toxic already exists"):
                await client.add_toxic("echo", Latency(latency=5))
            await client.remove_toxic("echo", "latency_downstream")
            assert await client.toxics("echo") == []
            assert await echoes(listen) < 0.05
            with pytest.raises(ProxyError, match="404 toxic not found"):
                await client.remove_toxic("echo", "latency_downstream")
            await client.add_toxic("echo", Latency(latency=100, stream="upstream"))
            await client.reset()
            assert await client.toxics("echo") == []
            await client.delete_proxy("echo")
            assert await client.proxies() == {}
            assert refused(parse_address(listen))
            with pytest.raises(ProxyError, match="404 proxy not found"):
                await client.delete_proxy("echo")

    run(go())


@pytest.mark.parametrize(("path", "body", "status", "named"), [
    ("/proxies/echo/toxics", {"type": "latncy"}, 400, "type: unknown toxic 'latncy'; did you mean 'latency'?"),
    ("/proxies/echo/toxics", {"type": "latency", "attributes": {"latency": "slow"}}, 400, "latency:"),
    ("/proxies/echo/toxics", {"type": "latency", "attributes": {"lattency": 1}}, 400, "lattency:"),
    ("/proxies/echo/toxics", {"type": "latency", "toxicity": 2}, 400, "toxicity:"),
    ("/proxies/nope/toxics", {"type": "latency"}, 404, "proxy not found"),
    ("/proxies", {"upstream": f"{HOST}:1"}, 400, "name:"),
    ("/proxies", {"name": "x", "upstream": "nowhere"}, 400, "upstream:"),
    ("/proxies", {"name": "x", "listen": f"{HOST}:http", "upstream": f"{HOST}:1"}, 400, "listen:"),
    ("/proxies", {"name": "echo", "upstream": f"{HOST}:1"}, 409, "proxy already exists"),
    ("/proxies", "not json", 400, "bad request body"),
])
def test_the_control_api_rejects_bad_input_naming_the_field(path: str, body: object, status: int,
                                                             named: str) -> None:
    async def go() -> tuple[int, dict]:
        async with control_api() as url, aiohttp.ClientSession() as session:
            await ToxiproxyClient(url, session=session).create_proxy("echo", f"{HOST}:0", f"{HOST}:1")
            data = body if isinstance(body, str) else None
            async with session.post(url + path, json=None if data else body, data=data) as response:
                return response.status, await response.json()

    got_status, answer = run(go())
    assert got_status == status and answer["status"] == status
    assert named in answer["error"]


def test_a_listen_port_in_use_is_a_clear_error() -> None:
    async def go() -> tuple[str, int, dict, dict]:
        with socket.socket() as taken:
            taken.bind((HOST, 0))
            taken.listen()
            listen = f"{HOST}:{taken.getsockname()[1]}"
            async with control_api() as url, aiohttp.ClientSession() as session:
                with pytest.raises(ProxyError) as caught:
                    await ToxiproxyClient(url, session=session).create_proxy("taken", listen, f"{HOST}:1")
                body = {"name": "taken", "listen": listen, "upstream": f"{HOST}:1"}
                async with session.post(url + "/proxies", json=body) as response:
                    status, answer = response.status, await response.json()
                async with session.get(url + "/proxies") as response:
                    return listen, status, answer | {"message": str(caught.value)}, await response.json()

    listen, status, answer, proxies = run(go())
    assert answer["message"] == f"proxy port {listen} is in use"
    assert status == 409 and "address already in use" in answer["error"] and listen in answer["error"]
    assert proxies == {}


# --- the engine child process ---------------------------------------------------------------


def _gone(pgid: int) -> bool:
    return not group_alive(pgid)


def test_the_builtin_engine_serves_and_stop_leaves_no_process_and_no_listener(tmp_path: Path) -> None:
    async def go():
        async with echo_server() as upstream:
            engine = await start_engine("builtin", tmp_path / "netfault.log")
            async with engine, ToxiproxyClient(engine.api_url) as client:
                listen = await client.create_proxy("echo", f"{HOST}:0", upstream)
                await client.add_toxic("echo", Latency(latency=50))
                assert await echoes(listen) >= 0.045
        return engine, listen

    engine, listen = run(go())
    assert engine.process.returncode == 0  # it exited on SIGTERM, cleanly
    assert _gone(engine.process.pid)
    assert refused(parse_address(engine.api_url.removeprefix("http://"))) and refused(parse_address(listen))


def test_sigint_to_the_engine_closes_every_listener(tmp_path: Path) -> None:
    async def go():
        engine = await start_engine("builtin", tmp_path / "netfault.log")
        async with ToxiproxyClient(engine.api_url) as client:
            listen = await client.create_proxy("idle", f"{HOST}:0", f"{HOST}:1")
        os.kill(engine.process.pid, signal.SIGINT)
        for _ in range(500):
            if engine.process.poll() is not None:
                break
            await asyncio.sleep(0.01)
        returncode = engine.process.returncode
        await engine.stop()  # nothing left to stop: no error
        return engine, listen, returncode

    engine, listen, returncode = run(go())
    assert returncode == 0 and _gone(engine.process.pid)
    assert refused(parse_address(engine.api_url.removeprefix("http://"))) and refused(parse_address(listen))


def test_the_toxiproxy_engine_not_on_path_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProxyError, match="toxiproxy-server is not on PATH.*`engine: builtin`"):
        run(start_engine("toxiproxy", tmp_path / "toxiproxy.log"))


@pytest.mark.skipif(shutil.which("toxiproxy-server") is None, reason="toxiproxy-server is not installed")
def test_the_client_drives_a_real_toxiproxy_the_same_way(tmp_path: Path) -> None:
    async def go() -> float:
        async with echo_server() as upstream:
            engine = await start_engine("toxiproxy", tmp_path / "toxiproxy.log")
            async with engine, ToxiproxyClient(engine.api_url) as client:
                listen = await client.create_proxy("echo", f"{HOST}:0", upstream)
                await client.add_toxic("echo", Latency(latency=100))
                return await echoes(listen)

    assert run(go()) >= 0.09
