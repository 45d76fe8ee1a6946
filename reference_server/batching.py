"""Dynamic batching for one model version.

Requests queue on the event loop; one collector task closes a batch when it holds
`max_batch_size` rows or when its oldest request has waited `max_queue_delay_ms` (0: take
whatever has arrived, as Triton does), runs `predict` and hands each caller its own rows.
While a batch computes, the next one gathers, so under load batches grow with the load.
The queue is bounded (in requests): a full queue raises 429 at once.

Where predict runs: on the version's single executor thread, unless its batches are so
cheap that the thread hop costs more than the work. Measured here on the fraud MLP (~50 µs
a batch): the hop plus GIL hand-offs between the loop and the thread cut throughput at
p99 < 25 ms roughly in half and put 10–80 ms spikes in the tail. So a running average of
the batch compute time picks the place: under `inline_max_ms` (model.json batching; 0
forces the executor) it runs on the loop, where it blocks I/O no longer than parsing a
request does; anything heavier keeps the loop free by running on the thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .asgi import never
from .backends.base import Outputs
from .errors import RequestError, client_closed
from .repository import BatchingSpec


@dataclass
class _Pending:
    rows: np.ndarray
    future: asyncio.Future[Outputs]
    enqueued: float  # loop.time()
    client_gone: Callable[[], bool]


class Batcher:
    def __init__(
        self,
        predict: Callable[[np.ndarray], Outputs],
        settings: BatchingSpec,
        name: str,
        on_batch: Callable[[int], None] = lambda rows: None,  # metrics hook, called on the loop
    ) -> None:
        self.predict = predict
        self.settings = settings
        self.name = name
        self.on_batch = on_batch
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._computing: list[_Pending] = []
        self._wakeup: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._compute_s: float | None = None  # running average of one batch's predict CPU time

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"batch-{self.name}")
        self._task = asyncio.get_running_loop().create_task(self._collect(), name=f"batcher-{self.name}")

    @property
    def inline(self) -> bool:
        """Whether batches currently run on the event loop (cheap model) or the executor."""
        limit_s = self.settings.inline_max_ms / 1000.0
        return self._compute_s is not None and self._compute_s < limit_s

    @property
    def depth(self) -> int:
        return len(self._queue)

    def submit(self, rows: np.ndarray, client_gone: Callable[[], bool] = never) -> asyncio.Future[Outputs]:
        """Queue `rows`; the returned future resolves to this request's slice of the outputs, or
        fails with a 499 if `client_gone()` says, when its batch is formed, that nobody waits for it."""
        if len(self._queue) >= self.settings.max_queue_size:
            raise RequestError(429, "queue full, retry later", headers={"retry-after": "1"})
        loop = asyncio.get_running_loop()
        item = _Pending(rows, loop.create_future(), loop.time(), client_gone)
        self._queue.append(item)
        self._queued_rows += len(rows)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done() and (
            len(self._queue) == 1 or self._queued_rows >= self.settings.max_batch_size
        ):
            wakeup.set_result(None)
        return item.future

    async def _sleep(self, delay: float | None) -> None:
        """Sleep until `delay` passes (None: forever) or submit() wakes us."""
        loop = asyncio.get_running_loop()
        self._wakeup = loop.create_future()
        timer = None if delay is None else loop.call_later(delay, _resolve, self._wakeup)
        try:
            await self._wakeup
        finally:
            if timer is not None:
                timer.cancel()
            self._wakeup = None

    def _take_batch(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        rows = len(batch[0].rows)
        while self._queue and rows + len(self._queue[0].rows) <= self.settings.max_batch_size:
            item = self._queue.popleft()
            batch.append(item)
            rows += len(item.rows)
        self._queued_rows -= rows
        return batch

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.settings.max_queue_delay_ms / 1000.0
        while True:
            if not self._queue:
                await self._sleep(None)
                continue
            wait = self._queue[0].enqueued + delay - loop.time()
            if self._queued_rows < self.settings.max_batch_size and wait > 0:
                await self._sleep(wait)
                continue
            await self._run(self._take_batch())

    async def _run(self, batch: list[_Pending]) -> None:
        live = _wanted(batch)
        if not live:
            return
        stacked = live[0].rows if len(live) == 1 else np.concatenate([p.rows for p in live])
        self.on_batch(len(stacked))
        self._computing = live
        try:
            if self.inline:
                outputs, seconds = self._timed_predict(stacked)
            else:
                loop = asyncio.get_running_loop()
                outputs, seconds = await loop.run_in_executor(self._executor, self._timed_predict, stacked)
        except Exception as e:  # a model failure fails this batch's callers, not the collector
            _fail(live, e)
            return
        finally:
            self._computing = []
        self._compute_s = seconds if self._compute_s is None else 0.8 * self._compute_s + 0.2 * seconds
        start = 0
        for p in live:
            end = start + len(p.rows)
            if not p.future.done():
                p.future.set_result({name: out[start:end] for name, out in outputs.items()})
            start = end

    def _timed_predict(self, rows: np.ndarray) -> tuple[Outputs, float]:
        started = time.thread_time()
        outputs = self.predict(rows)
        return outputs, time.thread_time() - started

    async def stop(self) -> None:
        """Stop collecting; callers still waiting (only after a drain timeout) get a 503."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        _fail([*self._computing, *self._queue], RequestError(503, f"{self.name} unloaded"))
        self._queue.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)


def _wanted(batch: list[_Pending]) -> list[_Pending]:
    """The batch without the requests nobody waits for: a cancelled caller, or a client that hung up."""
    live = []
    for p in batch:
        if p.future.done():
            continue
        if p.client_gone():
            p.future.set_exception(client_closed())
            continue
        live.append(p)
    return live


def _fail(pending: list[_Pending], error: BaseException) -> None:
    for p in pending:
        if not p.future.done():
            p.future.set_exception(error)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
