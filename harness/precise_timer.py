"""Wake the event loop at an exact nanosecond: a Linux timerfd (a kernel high-resolution
timer) behind a heap of deadlines, read by the loop like any socket.

uvloop's timers fire on millisecond ticks, so a send loop that must hit its schedule to
tens of µs used to spin through the last 1.5 ms before every send. A timerfd wakes epoll at
its deadline instead, and the loop idles meanwhile. By hand, through ctypes, because
Python gains os.timerfd_* only in 3.13. perf_counter_ns is CLOCK_MONOTONIC on Linux, so
its deadlines arm the timer directly.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import heapq
import itertools
import os
import sys
import time
import weakref

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000
TFD_TIMER_ABSTIME = 1
LATENESS_WEIGHT = 1 / 32  # of each new wake-up lateness in the running estimate
MAX_LEAD_NS = 500_000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.timerfd_create  # noqa: B018 - a libc without it has no timerfd
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class PreciseWaker:
    """Deadlines of one event loop, behind one timerfd armed at the earliest of them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        fd = _LIBC.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd = fd  # the loop is not kept: a waker must not keep its loop alive
        self.lead_ns = 50_000  # the expected wake-up lateness, learned as it goes
        self._heap: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()
        self._armed_for: int | None = None
        self._spec = _ITimerSpec()
        loop.add_reader(fd, self._fired)

    def wait(self, due_ns: int) -> asyncio.Future:
        """A future resolved at (or just after) `due_ns`."""
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (due_ns, next(self._order), future))
        if self._armed_for is None or due_ns < self._armed_for:
            self._arm(due_ns)
        return future

    def _arm(self, due_ns: int) -> None:
        self._armed_for = due_ns
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(due_ns, 1_000_000_000)
        _LIBC.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None)

    def _fired(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass  # rearmed to a later deadline before this read: nothing expired
        now = time.perf_counter_ns()
        self._armed_for = None
        first = True
        while self._heap and self._heap[0][0] <= now:
            due_ns, _, future = heapq.heappop(self._heap)
            if first:
                self._learn(now - due_ns)
                first = False
            if not future.done():
                future.set_result(None)
        if self._heap:
            self._arm(self._heap[0][0])

    def _learn(self, lateness_ns: int) -> None:
        estimate = self.lead_ns + (lateness_ns - self.lead_ns) * LATENESS_WEIGHT
        self.lead_ns = int(min(max(estimate, 0), MAX_LEAD_NS))


_WAKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PreciseWaker] = weakref.WeakKeyDictionary()


def precise_waker() -> PreciseWaker | None:
    """The running loop's waker, made on first use; None where there is no timerfd."""
    if _LIBC is None:
        return None
    loop = asyncio.get_running_loop()
    waker = _WAKERS.get(loop)
    if waker is None:
        waker = _WAKERS[loop] = PreciseWaker(loop)
        weakref.finalize(loop, os.close, waker.fd)
    return waker
