"""The generator's per-request CPU: dispatcher, oip-v2 client, HTTP/1.1 parsing, the event
bus and the record log, against an in-process transport that answers at once."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from harness.clients.base import Endpoint, make_client
from harness.contracts import Payload
from harness.events import EventBus, RequestDone
from harness.load.dispatch import Dispatcher, PreparedPayloads
from harness.records import RecordLog

from .in_process import AnsweringPool

# per round (the stats are per round: per request, divide by this); small enough for ~100
# rounds in 2 s, since a handful of long rounds on a shared box moved the median by 20%
REQUESTS = 2_000


def answering_client():
    client = make_client("oip-v2", Endpoint("http://127.0.0.1:8000", model="fraud"))
    client.pool = AnsweringPool(client.origin)
    return client


async def send_all(client, bodies: PreparedPayloads) -> RecordLog:
    bus, log = EventBus(), RecordLog(0)
    bus.subscribe(RequestDone, log.append)
    dispatcher = Dispatcher(None, client, bodies, 0, REQUESTS, bus.publisher(RequestDone))
    await client.warm(1)
    now = asyncio.get_running_loop().time
    for index in range(REQUESTS):
        dispatcher.launch(int(now() * 1e9), 0, index)
    client.pool.close()
    return log


@pytest.mark.benchmark(max_time=2.0)
def test_send_path_per_two_thousand_requests(benchmark, loop) -> None:
    client = answering_client()
    rows = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    bodies = [client.encode(Payload(i, rows[i : i + 1])) for i in range(16)]
    prepared = PreparedPayloads(bodies, list(range(16)), [None] * 16, [None] * 16, [math.nan] * 16)
    log = benchmark(lambda: loop.run_until_complete(send_all(client, prepared)))
    frame = log.to_frame()
    assert len(frame) == REQUESTS and frame.error_kind.isna().all() and (frame.model_version == "1").all()
