"""Toxiproxy's toxics: one pydantic model per type, with Toxiproxy's attribute names and
units, and the stage that applies it to one direction of one connection.

A model is the toxic's settings, shared by every connection. `toxic.start(link)` makes its
`Stage`, the per-connection state (a bandwidth toxic's pacing clock, limit_data's count);
the proxy runs each chunk of a direction through its stages in the order the toxics were
added, as Toxiproxy chains them. Models accept their attributes flat (as a scenario writes
them) or nested under `attributes` (as Toxiproxy's API sends them): `parse_toxic(data)`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from slogate_common.registry import Registry, UnknownEntry

Stream = Literal["upstream", "downstream"]  # client → server, server → client
COMMON = frozenset({"name", "type", "stream", "toxicity"})

# The next stage of the chain: a chunk and the loop time it became due there.
Emit = Callable[[bytes, float], Awaitable[None]]
EmitEof = Callable[[], Awaitable[None]]


class Link(Protocol):
    """The connection a stage acts on, as far as a toxic may touch it (proxy.Connection)."""

    rng: random.Random

    def close(self) -> None: ...

    def reset(self) -> None: ...


class ToxicError(ValueError):
    """A toxic that cannot be built; str() names the offending field."""


class Toxic(BaseModel):
    """What every toxic has. `toxicity` is the share of connections it affects: drawn once
    per connection, when the connection opens or when the toxic is added to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)  # default: "{type}_{stream}", as Toxiproxy names it
    type: str
    stream: Stream = "downstream"
    toxicity: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        flat = {key: value for key, value in data.items() if key != "attributes"}
        nested = data.get("attributes")
        if nested is not None:
            if not isinstance(nested, Mapping):
                raise ValueError("attributes must be an object")
            both = sorted(set(nested) & set(flat))
            if both:
                raise ValueError(f"{', '.join(both)} given both flat and under attributes")
            flat.update(nested)
        if not flat.get("name"):
            kind = flat.get("type", cls.model_fields["type"].default)
            flat["name"] = f"{kind}_{flat.get('stream', 'downstream')}"
        return flat

    def attributes(self) -> dict[str, Any]:
        return self.model_dump(exclude=set(COMMON))

    def to_api(self) -> dict[str, Any]:
        """Toxiproxy's JSON shape of a toxic."""
        return {"name": self.name, "type": self.type, "stream": self.stream, "toxicity": self.toxicity,
                "attributes": self.attributes()}

    stage: ClassVar[type[Stage]]  # what it does to one direction of one connection (`stage_of`)

    def start(self, link: Link) -> Stage:
        return self.stage(self, link)


TOXICS: Registry[type[Toxic]] = Registry("toxic")


def parse_toxic(data: Mapping[str, Any]) -> Toxic:
    """The toxic `data` describes, by its `type`, attributes flat or under `attributes`."""
    if not isinstance(data, Mapping):
        raise ToxicError("a toxic must be an object")
    if "type" not in data:
        raise ToxicError(f"type: missing; known: {', '.join(TOXICS.names())}")
    try:
        model = TOXICS.entry(data.get("type")).args
    except UnknownEntry as exc:
        raise ToxicError(f"type: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ToxicError(describe(exc)) from None


def describe(error: ValidationError) -> str:
    """pydantic's errors as `field: message`, one per fault, so an API answer names the field."""
    return "; ".join(f"{'.'.join(str(part) for part in e['loc']) or 'toxic'}: {e['msg']}" for e in error.errors())


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def stage_of(toxic: type[Toxic]) -> Callable[[type[Stage]], type[Stage]]:
    """Make the decorated Stage the one each connection gets for `toxic`."""

    def attach(stage: type[Stage]) -> type[Stage]:
        toxic.stage = stage
        return stage

    return attach


class Stage:
    """One toxic acting on one direction of one connection.

    `data` gets each chunk with the loop time it became due and hands what survives to
    `emit`, in order; `eof` hands the end of the stream on. A removed stage (its toxic was
    deleted) stops waiting, so a chunk it holds goes on at once, and the proxy skips it from
    then on."""

    def __init__(self, toxic: Toxic, link: Link) -> None:
        self.toxic = toxic
        self.link = link
        self.removed = False
        self._wake: asyncio.Future | None = None

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        await emit(chunk, at)

    async def eof(self, emit_eof: EmitEof) -> None:
        await emit_eof()

    def remove(self) -> None:
        self.removed = True
        self.stop()
        if self._wake is not None:
            _settle(self._wake)

    def stop(self) -> None:
        """The connection is gone: release what the stage holds (timers)."""

    async def nap_until(self, due: float) -> None:
        """Wait until loop time `due`, or less if the toxic is removed meanwhile."""
        loop = asyncio.get_running_loop()
        if self.removed or due <= loop.time():
            return
        self._wake = loop.create_future()
        timer = loop.call_at(due, _settle, self._wake)
        try:
            await self._wake
        finally:
            timer.cancel()
            self._wake = None


@TOXICS.register_model("latency")
class Latency(Toxic):
    """Delays each chunk by `latency` ms ± `jitter` ms (uniform), counted from when it
    arrived, so chunks keep their order and a steady stream keeps its throughput."""

    type: Literal["latency"] = "latency"
    latency: NonNegativeInt = 0
    jitter: NonNegativeInt = 0


@stage_of(Latency)
class LatencyStage(Stage):
    toxic: Latency

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        delay_ms = self.toxic.latency
        if self.toxic.jitter:
            delay_ms += self.link.rng.uniform(-self.toxic.jitter, self.toxic.jitter)
        due = at + delay_ms / 1000
        await self.nap_until(due)
        await emit(chunk, due)  # a later latency toxic adds its delay to this one's


@TOXICS.register_model("bandwidth")
class Bandwidth(Toxic):
    """Paces the stream at `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy counts; 0: no limit).
    A chunk is released when its last byte would have been sent, in pieces of at most
    100 ms' worth, so a slow rate trickles rather than bursts."""

    type: Literal["bandwidth"] = "bandwidth"
    rate: NonNegativeInt = 0


@stage_of(Bandwidth)
class BandwidthStage(Stage):
    toxic: Bandwidth

    def __init__(self, toxic: Toxic, link: Link) -> None:
        super().__init__(toxic, link)
        self._free_at = 0.0  # when the paced line has sent everything handed to it so far

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        per_s = self.toxic.rate * 1000
        if not per_s:
            await emit(chunk, at)
            return
        # an idle line earns no credit: pacing restarts from now, not from when it last sent
        self._free_at = max(self._free_at, asyncio.get_running_loop().time())
        step = max(per_s // 10, 1)
        for start in range(0, len(chunk), step):
            piece = chunk[start:start + step]
            self._free_at += len(piece) / per_s
            await self.nap_until(self._free_at)
            await emit(piece, at)


@TOXICS.register_model("slow_close")
class SlowClose(Toxic):
    """Holds the end of the stream (the peer's close) for `delay` ms before passing it on."""

    type: Literal["slow_close"] = "slow_close"
    delay: NonNegativeInt = 0


@stage_of(SlowClose)
class SlowCloseStage(Stage):
    toxic: SlowClose

    async def eof(self, emit_eof: EmitEof) -> None:
        await self.nap_until(asyncio.get_running_loop().time() + self.toxic.delay / 1000)
        await emit_eof()


@TOXICS.register_model("timeout")
class Timeout(Toxic):
    """Stops all data (it is dropped, not held) and closes the connection `timeout` ms later;
    0 holds it open for as long as the toxic stays. Like Toxiproxy, the clock restarts with
    every chunk swallowed, and removing the toxic closes the connections it held, whose
    stream it has left with a hole."""

    type: Literal["timeout"] = "timeout"
    timeout: NonNegativeInt = 0


@stage_of(Timeout)
class TimeoutStage(Stage):
    toxic: Timeout

    def __init__(self, toxic: Toxic, link: Link) -> None:
        super().__init__(toxic, link)
        self._timer: asyncio.TimerHandle | None = None
        self._restart()

    def _restart(self) -> None:
        if self.toxic.timeout:
            self.stop()
            self._timer = asyncio.get_running_loop().call_later(self.toxic.timeout / 1000, self.link.close)

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        self._restart()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def remove(self) -> None:
        super().remove()
        self.link.close()


@TOXICS.register_model("reset_peer")
class ResetPeer(Toxic):
    """Resets the connection (a TCP RST to both peers, by SO_LINGER 0) `timeout` ms after the
    first chunk it sees in its direction; 0: at once. Like Toxiproxy, it waits for data, so
    an idle keep-alive connection is reset on its next request, not while it idles."""

    type: Literal["reset_peer"] = "reset_peer"
    timeout: NonNegativeInt = 0


@stage_of(ResetPeer)
class ResetPeerStage(Stage):
    toxic: ResetPeer

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        await self.nap_until(asyncio.get_running_loop().time() + self.toxic.timeout / 1000)
        if self.removed:  # deleted before it fired: the connection lives on, chunk and all
            await emit(chunk, at)
        else:
            self.link.reset()


@TOXICS.register_model("slicer")
class Slicer(Toxic):
    """Slices each chunk into pieces of about `average_size` ± `size_variation` bytes, with
    `delay` µs after each (timers are ms-coarse on uvloop: below 1 ms it is a yield)."""

    type: Literal["slicer"] = "slicer"
    average_size: PositiveInt
    size_variation: NonNegativeInt = 0
    delay: NonNegativeInt = 0

    @model_validator(mode="after")
    def _variation_below_average(self) -> Slicer:
        if self.size_variation and self.size_variation >= self.average_size:
            raise ValueError("size_variation must be less than average_size")
        return self


@stage_of(Slicer)
class SlicerStage(Stage):
    toxic: Slicer

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        loop = asyncio.get_running_loop()
        for start, end in self.cuts(0, len(chunk)):
            await emit(chunk[start:end], at)
            await self.nap_until(loop.time() + self.toxic.delay / 1e6)

    def cuts(self, start: int, end: int) -> list[tuple[int, int]]:
        """Toxiproxy's slicing: halve, moved by up to ± size_variation, until a piece is within
        the variation of the average; evenly varied, with no small piece at either end."""
        average, variation = self.toxic.average_size, self.toxic.size_variation
        if end - start - average <= variation:
            return [(start, end)]
        middle = start + (end - start) // 2
        if variation:
            middle += self.link.rng.randrange(2 * variation) - variation
        return self.cuts(start, middle) + self.cuts(middle, end)


@TOXICS.register_model("limit_data")
class LimitData(Toxic):
    """Closes the connection once `bytes` bytes have passed in its direction (counted from
    when the toxic reached the connection); the chunk that crosses the limit is cut at it."""

    type: Literal["limit_data"] = "limit_data"
    bytes: NonNegativeInt = 0


@stage_of(LimitData)
class LimitDataStage(Stage):
    toxic: LimitData

    def __init__(self, toxic: Toxic, link: Link) -> None:
        super().__init__(toxic, link)
        self._passed = 0

    async def data(self, chunk: bytes, at: float, emit: Emit) -> None:
        room = self.toxic.bytes - self._passed
        piece = chunk if len(chunk) <= room else chunk[:room]
        if piece:
            self._passed += len(piece)
            await emit(piece, at)
        if self._passed >= self.toxic.bytes:
            self.link.close()
