"""Where the batcher runs predict: a cheap model stays on the event loop through a machine stall."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from reference_server.batching import Batcher
from reference_server.repository import BatchingSpec

STALL_S = 0.05


def _placements(stall_on_call: int, calls: int = 6) -> list[bool]:
    """`inline` after each of `calls` one-row requests; predict sleeps (no CPU) on one call."""

    async def go() -> list[bool]:
        count = 0

        def predict(rows: np.ndarray) -> dict[str, np.ndarray]:
            nonlocal count
            count += 1
            if count == stall_on_call:
                time.sleep(STALL_S)  # descheduled, as in a stall of the whole machine
            return {"y": rows[:, :1] * 2}

        batcher = Batcher(predict, BatchingSpec(max_batch_size=8, max_queue_delay_ms=0), "cheap")
        batcher.start()
        seen = []
        try:
            for _ in range(calls):
                outputs = await batcher.submit(np.ones((1, 3), np.float32))
                assert outputs["y"].tolist() == [[2.0]]
                seen.append(batcher.inline)
        finally:
            await batcher.stop()
        return seen

    return asyncio.run(go())


def test_a_cheap_model_moves_onto_the_loop_after_its_first_batch() -> None:
    assert _placements(stall_on_call=0) == [True] * 6


def test_a_stall_during_one_batch_does_not_move_it_off_the_loop() -> None:
    assert _placements(stall_on_call=2) == [True] * 6


def test_heavy_cpu_work_still_goes_to_the_executor() -> None:
    async def go() -> bool:
        def predict(rows: np.ndarray) -> dict[str, np.ndarray]:
            deadline = time.thread_time() + 0.005  # 5 ms of real CPU per batch
            while time.thread_time() < deadline:
                pass
            return {"y": rows}

        batcher = Batcher(predict, BatchingSpec(max_batch_size=8, max_queue_delay_ms=0), "heavy")
        batcher.start()
        try:
            for _ in range(3):
                await batcher.submit(np.ones((1, 3), np.float32))
            return batcher.inline
        finally:
            await batcher.stop()

    assert asyncio.run(go()) is False
