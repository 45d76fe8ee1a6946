"""`sim` backend: a model whose service time is drawn from a known distribution.

The harness's measurement-truth tests need a server whose true latency is known, so the
service time is an asyncio sleep that never ends early (it never blocks the loop; measured
overshoot on uvloop is ~0.1–0.3 ms at 2–20 ms). A concurrency limit admits requests FIFO; the ones beyond it wait,
and beyond `max_queue_size` waiting requests the server answers 429.

model.json "sim" section:
  {"distribution": "constant", "median_ms": 10}
  {"distribution": "lognormal", "median_ms": 20, "sigma": 0.5}
  {"distribution": "exponential", "mean_ms": 5}
  + optional "concurrency" (default 64), "max_queue_size" (default 4096), "seed", and a
  planted tail: "extra_ms" added to a random "extra_fraction" of requests (a canary's
  regression of the slowest few percent), and "load_ms", how long loading the version takes
  (an artifact fetched over a slow link: what a cold start costs).
Each row of the first declared output (default "service_ms") carries the drawn service time.
"""

from __future__ import annotations

import asyncio
import math
import time
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import RequestError
from ..repository import RepositoryError
from .base import BackendContext, Outputs, ServedBy, Serving, register_backend


@dataclass(frozen=True)
class SimSettings:
    distribution: str = "constant"
    median_ms: float = 10.0
    sigma: float = 0.0
    mean_ms: float = 10.0
    concurrency: int = 64
    max_queue_size: int = 4096
    seed: int | None = None
    extra_ms: float = 0.0
    extra_fraction: float = 0.0
    load_ms: float = 0.0

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> SimSettings:
        try:
            s = cls(**section)
        except TypeError as e:
            raise RepositoryError(f"bad sim section {section}: {e}") from e
        if s.distribution not in SAMPLERS:
            raise RepositoryError(f"sim distribution {s.distribution!r}; choose one of {sorted(SAMPLERS)}")
        if s.concurrency < 1 or s.max_queue_size < 0 or min(s.median_ms, s.mean_ms, s.sigma, s.extra_ms, s.load_ms) < 0:
            raise RepositoryError(f"bad sim section {section}: negative or zero limits")
        if not 0 <= s.extra_fraction <= 1:
            raise RepositoryError(f"bad sim section {section}: extra_fraction must lie in [0, 1]")
        return s


# distribution name → (settings, rng) → service time in milliseconds
SAMPLERS: dict[str, Callable[[SimSettings, random.Random], float]] = {
    "constant": lambda s, rng: s.median_ms,
    "lognormal": lambda s, rng: rng.lognormvariate(math.log(s.median_ms), s.sigma),
    "exponential": lambda s, rng: rng.expovariate(1.0 / s.mean_ms),
}


@register_backend("sim")
class SimBackend:
    serving: ClassVar[Serving] = "direct"

    def __init__(self, ctx: BackendContext) -> None:
        self.settings = SimSettings.from_section(ctx.spec.section("sim"))
        self._rng = random.Random(self.settings.seed)
        self._sample = SAMPLERS[self.settings.distribution]
        self._slots = asyncio.Semaphore(self.settings.concurrency)  # FIFO wake-up order
        self._waiting = 0
        declared = ctx.spec.outputs[0] if ctx.spec.outputs else None
        self._output = declared.name if declared else "service_ms"
        self._dtype = np.float32 if declared and declared.datatype == "FP32" else np.float64

    async def load(self) -> None:
        await asyncio.sleep(self.settings.load_ms / 1000.0)

    async def warmup(self) -> None:
        await self.infer({}, 1)

    @property
    def queue_depth(self) -> int:
        return self._waiting

    async def infer(self, body: dict[str, Any], rows: int) -> Outputs:
        if self._slots.locked() and self._waiting >= self.settings.max_queue_size:
            raise RequestError(429, "sim queue full", headers={"retry-after": "1"})
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            service_ms = self._sample(self.settings, self._rng)
            if self._rng.random() < self.settings.extra_fraction:
                service_ms += self.settings.extra_ms
            await sleep_at_least(service_ms / 1000.0)
        finally:
            self._slots.release()
        return {self._output: np.full((rows, 1), service_ms, dtype=self._dtype)}

    def served_by(self) -> ServedBy:
        return ServedBy("sim", "cpu")  # its service time is a sleep on the event loop

    def close(self) -> None:
        pass


async def sleep_at_least(seconds: float) -> None:
    """Sleep no less than `seconds` by the monotonic clock.

    uvloop (libuv) rounds timers to whole milliseconds against a clock cached at the start of
    each loop iteration, so one asyncio.sleep can wake up to ~1 ms early; a measurement-truth
    backend must never serve faster than the service time it reports."""
    deadline = time.perf_counter() + seconds
    while (left := deadline - time.perf_counter()) > 0:
        await asyncio.sleep(left)
