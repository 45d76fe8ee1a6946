"""The batcher leaves out of a batch every request whose client hung up while it queued."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from reference_server.batching import Batcher
from reference_server.errors import CLIENT_CLOSED, RequestError
from reference_server.repository import BatchingSpec


def test_a_queued_request_whose_client_left_is_failed_499_and_not_computed() -> None:
    async def go() -> tuple[list[int], list[object]]:
        computed: list[int] = []

        def predict(rows: np.ndarray) -> dict[str, np.ndarray]:
            computed.extend(int(v) for v in rows[:, 0])
            return {"y": rows}

        batcher = Batcher(predict, BatchingSpec(max_batch_size=8, max_queue_delay_ms=20), "abandoned")
        batcher.start()
        left = {2}  # the client of row 2 hangs up while the batch gathers
        try:
            futures = [batcher.submit(np.full((1, 1), i, np.float32), lambda i=i: i in left) for i in range(4)]
            results = await asyncio.gather(*futures, return_exceptions=True)
        finally:
            await batcher.stop()
        return computed, results

    computed, results = asyncio.run(go())
    assert computed == [0, 1, 3]
    assert isinstance(results[2], RequestError) and results[2].status == CLIENT_CLOSED
    assert [r["y"].item() for i, r in enumerate(results) if i != 2] == [0.0, 1.0, 3.0]  # type: ignore[index]


@pytest.mark.parametrize("gone", [False, True])
def test_the_batch_computes_the_rest_whether_or_not_one_client_left(gone: bool) -> None:
    async def go() -> int:
        batches: list[int] = []
        batcher = Batcher(lambda rows: {"y": rows}, BatchingSpec(max_batch_size=4, max_queue_delay_ms=20), "rest",
                          on_batch=batches.append)
        batcher.start()
        try:
            await asyncio.gather(batcher.submit(np.ones((1, 1), np.float32), lambda: gone),
                                 batcher.submit(np.ones((1, 1), np.float32)), return_exceptions=True)
        finally:
            await batcher.stop()
        return sum(batches)

    assert asyncio.run(go()) == (1 if gone else 2)
