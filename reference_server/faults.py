"""Fault injection on the request path (admin API `/admin/faults`): which faults fire.

Kinds: latency (add `ms`), error (answer `status`), nan (NaN outputs: silent corruption),
stall (hold the response for `ms`, or until the fault is cleared or expires). Each matching
fault fires independently with probability `rate`. memory is not per request: the server
allocates `mb` MiB (every page touched, so it is resident) and holds them while the fault
lasts, as a leak or a noisy tenant would. slow_load is not per request either: each load of
a matching version (start-up, a reload, a scale-to-zero wake) takes `ms` longer, as an
artifact fetched over a slow link would (model_manager.py asks `load_delay_s`). The request's Guard (guard.py) rolls
the table once per request and applies what fired; this module holds the effects it uses.

Streams (LLM replies on /v1) read the same kinds differently: latency delays the first
token, stall pauses after the first chunk, error answers `status` before streaming, and
truncate (streams only) closes the connection without [DONE] after `chunks` chunks, or at
a random point of the reply when `chunks` is absent. nan has no LLM meaning: the admin API
refuses it for an LLM model (and truncate for a tensor model), and a fault naming no model
applies only where it means something.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .errors import RequestError

RANDOM_CUT_DEFAULT_TOKENS = 16  # a random cut's range when the request sets no max_tokens
Kind = Literal["latency", "error", "nan", "stall", "truncate", "memory", "slow_load"]
NOT_PER_REQUEST = ("memory", "slow_load")
PAGE = 4096


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # strict: `true` is not 1 chunk, "5" not 5 ms
    kind: Kind
    model: str | None = None
    version: str | None = None
    ms: float | None = Field(None, ge=0, le=3_600_000)
    status: int = Field(500, ge=400, le=599)
    rate: float = Field(1.0, ge=0, le=1)
    duration_s: float | None = Field(None, gt=0)
    chunks: int | None = Field(None, ge=1)  # truncate: chunks streamed before the cut
    mb: float | None = Field(None, gt=0, le=65536)  # memory: MiB to hold

    @model_validator(mode="after")
    def _latency_needs_ms(self) -> FaultRequest:
        if self.kind in ("latency", "slow_load") and self.ms is None:
            raise ValueError(f"{self.kind} faults need ms")
        if self.kind == "memory" and self.mb is None:
            raise ValueError("memory faults need mb")
        return self


class StreamCut(BaseException):
    """Raised by a truncate fault. A BaseException, like GeneratorExit, so that the SSE
    writer's error handling (which turns failures into an error event) lets it through;
    the app catches it and returns without finishing the response, and uvicorn then
    closes the connection. A non-streaming reply is cut before any byte: uvicorn answers
    it with a bare 500."""


@dataclass
class Fault:
    id: str
    spec: FaultRequest
    expires_at: float | None  # time.monotonic()
    created_at: float = field(default_factory=time.time)
    cleared: asyncio.Event = field(default_factory=asyncio.Event)  # releases stalls
    fired: int = 0
    ballast: bytearray | None = None  # a memory fault's allocation, freed with the fault

    def matches(self, model: str, version: str, now: float) -> bool:
        s = self.spec
        return (
            (s.model is None or s.model == model)
            and (s.version is None or s.version == version)
            and (self.expires_at is None or now < self.expires_at)
        )

    def describe(self) -> dict[str, Any]:
        remaining = None if self.expires_at is None else max(0.0, self.expires_at - time.monotonic())
        return {"id": self.id, **self.spec.model_dump(), "created_at": self.created_at,
                "remaining_s": remaining, "fired": self.fired}


@dataclass
class Effects:
    """What the firing faults do to one request."""

    delay_s: float = 0.0
    stalls: list[Fault] = field(default_factory=list)
    error_status: int | None = None
    nan: bool = False
    truncate: bool = False
    truncate_chunks: int | None = None  # None: a random point of the reply

    def cut_after(self, max_tokens: int | None) -> int | None:
        """Chunks to stream before the connection is cut; None when no truncate fault fired.

        A random cut falls strictly inside a reply of `max_tokens` chunks (one token each),
        so at least one chunk arrives and the reply never completes."""
        if not self.truncate:
            return None
        if self.truncate_chunks is not None:
            return self.truncate_chunks
        return random.randint(1, max(1, (max_tokens or RANDOM_CUT_DEFAULT_TOKENS) - 1))


NO_FAULTS = Effects()


class FaultTable:
    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(self, spec: FaultRequest, remaining_s: float | None, hold_memory: bool = True) -> Fault:
        """A fault ending `remaining_s` from now (None: when cleared). Ids count up in the order
        faults are added, so workers applying the same changes in order agree on them.
        `hold_memory` false: a memory fault is listed and cleared here, allocated elsewhere."""
        expires = None if remaining_s is None else time.monotonic() + remaining_s
        fault = Fault(f"f{next(self._ids)}", spec, expires)
        if spec.kind == "memory" and hold_memory:
            fault.ballast = _resident(int(spec.mb * 2**20))
        self._faults[fault.id] = fault
        return fault

    def list(self) -> list[dict[str, Any]]:
        self._expire()
        return [f.describe() for f in self._faults.values()]

    def clear(self, fault_id: str | None = None) -> int:
        ids = list(self._faults) if fault_id is None else [fault_id]
        if fault_id is not None and fault_id not in self._faults:
            raise RequestError(404, f"no fault {fault_id}", field="id")
        for i in ids:
            self._faults.pop(i).cleared.set()
        return len(ids)

    def roll(self, model: str, version: str) -> Effects:
        """Decide which faults fire for this request."""
        effects = Effects()
        now = time.monotonic()
        for fault in list(self._faults.values()):
            if (fault.spec.kind in NOT_PER_REQUEST or not fault.matches(model, version, now)
                    or random.random() >= fault.spec.rate):
                continue
            fault.fired += 1
            kind = fault.spec.kind
            if kind == "latency":
                effects.delay_s += (fault.spec.ms or 0.0) / 1000.0
            elif kind == "stall":
                effects.stalls.append(fault)
            elif kind == "error":
                effects.error_status = fault.spec.status
            elif kind == "truncate":
                effects.truncate, effects.truncate_chunks = True, fault.spec.chunks
            else:
                effects.nan = True
        self._expire(now)
        return effects

    def load_delay_s(self, model: str, version: str) -> float:
        """How much longer this load of the version takes: the slow_load faults that fire for it."""
        now = time.monotonic()
        self._expire(now)
        firing = [f for f in self._faults.values() if f.spec.kind == "slow_load" and f.matches(model, version, now)
                  and random.random() < f.spec.rate]
        for fault in firing:
            fault.fired += 1
        return sum(fault.spec.ms or 0.0 for fault in firing) / 1000.0

    def _expire(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for fault in [f for f in self._faults.values() if f.expires_at is not None and now >= f.expires_at]:
            self._faults.pop(fault.id).cleared.set()


def _resident(size: int) -> bytearray:
    """Allocated and written, page by page: an untouched allocation costs no memory on Linux."""
    ballast = bytearray(size)
    ballast[::PAGE] = b"\x01" * len(range(0, size, PAGE))
    return ballast


async def add_latency(effects: Effects) -> None:
    if effects.delay_s:
        await asyncio.sleep(effects.delay_s)


async def hold_stalls(effects: Effects) -> None:
    """Each stall holds until its ms passes or its fault is cleared or expires."""
    for fault in effects.stalls:
        timeout = _stall_timeout(fault)
        try:
            await asyncio.wait_for(fault.cleared.wait(), timeout)
        except TimeoutError:
            pass


def _stall_timeout(fault: Fault) -> float | None:
    limits = []
    if fault.spec.ms is not None:
        limits.append(fault.spec.ms / 1000.0)
    if fault.expires_at is not None:
        limits.append(max(0.0, fault.expires_at - time.monotonic()))
    return min(limits) if limits else None
