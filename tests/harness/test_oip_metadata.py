"""The oip-v2 client reads model metadata as real servers write it, nulls included (KServe 0.21)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from harness.clients.base import Endpoint, make_client

KSERVE_STYLE = {"name": "fraud", "versions": None, "platform": "",
                "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 14]}],
                "outputs": [{"name": "fraud_probability", "datatype": "FP32", "shape": [-1, 1]}]}
SPARSE = {"name": "fraud", "versions": None, "platform": "", "inputs": None, "outputs": None, "parameters": None}


async def _describe(metadata: dict):
    async def answer(_: web.Request) -> web.Response:
        return web.json_response(metadata)

    app = web.Application()
    app.router.add_get("/v2/models/fraud", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = make_client("oip-v2", Endpoint(f"http://127.0.0.1:{port}", model="fraud"))
        async with aiohttp.ClientSession() as session:
            return await client.describe(session)
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(("metadata", "inputs"), [(KSERVE_STYLE, ["features"]), (SPARSE, [])])
def test_null_metadata_fields_read_as_empty(metadata: dict, inputs: list[str]) -> None:
    info = asyncio.run(_describe(metadata))
    assert info.versions == []
    assert [i["name"] for i in info.inputs] == inputs
    assert info.parameters == {}
