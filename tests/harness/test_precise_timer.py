"""The send loop's wake-up: a timerfd behind a heap of deadlines, never early, in order."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness import precise_timer
from harness.clock import wait_until
from harness.entry.eventloop import run as run_loop


def test_wait_until_never_returns_before_its_due_time() -> None:
    async def go() -> list[int]:
        early = []
        for offset_us in (0, 30, 300, 900, 1_700, 4_000, 12_000):
            due = time.perf_counter_ns() + offset_us * 1000
            await wait_until(due)
            early.append(due - time.perf_counter_ns())
        return early

    assert all(gap <= 0 for gap in run_loop(go()))


def test_concurrent_deadlines_resolve_in_their_order() -> None:
    async def go() -> list[int]:
        waker = precise_timer.precise_waker()
        start = time.perf_counter_ns()
        order: list[int] = []

        async def wait(index: int, due_ns: int) -> None:
            await waker.wait(due_ns)
            assert time.perf_counter_ns() >= due_ns
            order.append(index)

        dues = [start + ms * 1_000_000 for ms in (9, 3, 6, 1)]
        await asyncio.gather(*(wait(i, due) for i, due in enumerate(dues)))
        return order

    assert run_loop(go()) == [3, 1, 2, 0]


def test_the_waker_learns_its_lateness_within_limits() -> None:
    async def go() -> list[int]:
        waker = precise_timer.precise_waker()
        waker.lead_ns = 0
        learned = []
        for lateness_ns in (80_000, 80_000, 2_000_000, -5_000):
            for _ in range(100):
                waker._learn(lateness_ns)
            learned.append(waker.lead_ns)
        return learned

    towards_80us, still_80us, capped, floored = run_loop(go())
    assert 75_000 <= towards_80us <= 80_000 and 79_000 <= still_80us <= 80_000
    assert capped == precise_timer.MAX_LEAD_NS  # one slow wake-up never makes it send a whole ms early
    assert 0 <= floored < 80_000


def test_without_a_timerfd_the_wait_still_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precise_timer, "_LIBC", None)

    async def go() -> int:
        due = time.perf_counter_ns() + 2_000_000
        await wait_until(due)
        return due - time.perf_counter_ns()

    assert run_loop(go()) <= 0
