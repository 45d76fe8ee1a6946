"""Arrival processes: when each open-loop request is intended to be sent.

Each process is a registered, typed arguments model that can draw its own schedule. Each
open-loop phase delivers exactly round(rate × duration) requests (vLLM's bench rescales
its gamma intervals for the same reason): a run's achieved rate is then a property of the
generator, not of sampling noise, and the rate check stays meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from harness.clock import NS_PER_S
from harness.fields import ScenarioPath, Seconds, Strict, through
from slogate_common.registry import Registry

arrival_processes: Registry[type[ArrivalArgs]] = Registry("arrival process", builtins="harness.plugins")


class ArrivalArgs(Strict):
    process: str
    open_loop: ClassVar[bool] = True
    engine: ClassVar[str | None] = None  # the workload.engine that must send it; None: any

    def user_count(self) -> int:
        """A closed loop's users (each holds a connection); 0 for an open loop."""
        return 0

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        """Intended send times in seconds from the phase start, sorted, inside the phase."""
        raise NotImplementedError


Arrival = Annotated[Any, through(arrival_processes, "process")]


class Phase(Strict):
    name: str | None = None
    duration: Seconds = Field(gt=0)
    arrival: Arrival
    disturbance: bool = Field(default=False, description="the phase is a disturbance on the fault timeline (a burst, "
                              "a thundering herd): SLOs are judged before and after it, `in during(NAME)` while it "
                              "lasts, and the recovery figures time the way back from its end")


Rate = Annotated[float, Field(gt=0, description="requests per second")]


@arrival_processes.register_model("constant")
class Constant(ArrivalArgs):
    process: Literal["constant"] = "constant"
    rate: Rate

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        return np.arange(_count(self.rate, duration_s)) / self.rate


@arrival_processes.register_model("poisson")
class Poisson(ArrivalArgs):
    process: Literal["poisson"] = "poisson"
    rate: Rate

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        return _renewal(_count(self.rate, duration_s), duration_s, 1.0, rng)


@arrival_processes.register_model("gamma")
class Gamma(ArrivalArgs):
    process: Literal["gamma"] = "gamma"
    rate: Rate
    burstiness: float = Field(default=1.0, gt=0, description="gamma shape: 1 is Poisson, below 1 burstier")

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        return _renewal(_count(self.rate, duration_s), duration_s, self.burstiness, rng)


@arrival_processes.register_model("ramp")
class Ramp(ArrivalArgs):
    """Deterministic arrivals whose rate moves linearly from `from` to `to`."""

    process: Literal["ramp"] = "ramp"
    from_rate: Rate = Field(alias="from")
    to_rate: Rate = Field(alias="to")

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        r0, r1 = self.from_rate, self.to_rate
        n = int(round((r0 + r1) / 2 * duration_s))
        i = np.arange(n, dtype=float)
        slope = (r1 - r0) / duration_s
        if abs(slope) < 1e-12:
            return i / r0
        # Λ(t) = r0·t + slope·t²/2 = i  →  t = (−r0 + sqrt(r0² + 2·slope·i)) / slope
        return (-r0 + np.sqrt(np.maximum(r0 * r0 + 2 * slope * i, 0.0))) / slope


@arrival_processes.register_model("idle")
class Idle(ArrivalArgs):
    """No arrivals: a quiet stretch (before a burst, for a scale-to-zero idle timeout to pass)."""

    process: Literal["idle"] = "idle"

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        return np.empty(0)


@arrival_processes.register_model("trace")
class Trace(ArrivalArgs):
    """Offsets in seconds, one per line (or the first CSV column), divided by `speedup`."""

    process: Literal["trace"] = "trace"
    file: ScenarioPath
    speedup: float = Field(default=1.0, gt=0)

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        offsets = np.loadtxt(self.file, dtype=float, ndmin=1, comments="#", delimiter=",", usecols=0)
        offsets = np.sort(offsets) / self.speedup
        if offsets.size and offsets[0] < 0:
            raise ValueError(f"{self.file}: trace offsets must be ≥ 0 seconds")
        return offsets[offsets < duration_s]


@arrival_processes.register_model("concurrency")
class Concurrency(ArrivalArgs):
    """Closed loop: N users, each sending when its last request returns (plus think time)."""

    process: Literal["concurrency"] = "concurrency"
    open_loop: ClassVar[bool] = False
    concurrency: int = Field(gt=0, le=10_000)
    think_time: Seconds = 0.0

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        return np.empty(0)

    def user_count(self) -> int:
        return self.concurrency


class LocustWait(Strict):
    """One of locust's wait-time functions, named as locust names it (locust.wait_time)."""

    constant_throughput: float | None = Field(default=None, gt=0, description="tasks per second per user")
    between: tuple[Seconds, Seconds] | None = Field(default=None, description="[min, max] seconds, uniform")
    constant: Seconds | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> LocustWait:
        named = [name for name, value in self if value is not None]
        if len(named) != 1:
            raise ValueError(f"name exactly one wait-time function of constant_throughput, between, constant "
                             f"(got {', '.join(named) or 'none'})")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(f"between: [min, max] needs min <= max, got {list(self.between)}")
        return self

    def call(self) -> tuple[str, tuple[float, ...]]:
        """The locust.wait_time function's name and arguments."""
        name, value = next((name, value) for name, value in self if value is not None)
        return name, tuple(value) if isinstance(value, tuple) else (value,)


@arrival_processes.register_model("locust_users")
class LocustUsers(ArrivalArgs):
    """Closed loop run by locust itself (workload.engine: locust): `users` locust users, spawned at
    `spawn_rate` per second, each sending a request, waiting for its answer, then locust's `wait`.
    It is a phase's arrival process like `concurrency`, so phases, warm-up and SLO windows apply
    as they do to any closed loop; the users are locust's own (its spawning, its wait functions)."""

    process: Literal["locust_users"] = "locust_users"
    open_loop: ClassVar[bool] = False
    engine: ClassVar[str | None] = "locust"
    users: int = Field(gt=0, le=10_000)
    spawn_rate: float | None = Field(default=None, gt=0, description="users started per second; default: `users` (all within a second)")
    wait: LocustWait

    def offsets_s(self, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        return np.empty(0)

    def user_count(self) -> int:
        return self.users

    @property
    def users_per_s(self) -> float:
        return self.spawn_rate or float(self.users)


def _count(rate: float, duration: float) -> int:
    return int(round(rate * duration))


def _renewal(n: int, duration: float, shape: float, rng: np.random.Generator) -> np.ndarray:
    """n arrivals with gamma(shape) gaps (shape 1: Poisson), rescaled to span exactly `duration`.

    Drawing n+1 gaps and scaling their sum to the duration keeps the last arrival inside the
    phase and the mean gap at duration/(n+1) ≈ 1/rate.
    """
    if n == 0:
        return np.empty(0)
    gaps = rng.gamma(shape, 1.0 / shape, size=n + 1)
    times = np.cumsum(gaps)
    return times[:-1] * (duration / times[-1])


@dataclass(frozen=True)
class PhaseSchedule:
    index: int
    name: str
    start_s: float
    end_s: float
    offsets_ns: np.ndarray  # int64, relative to the run's t0; empty for closed loop
    arrival: ArrivalArgs
    disturbance: bool = False

    @property
    def target_rate(self) -> float | None:
        if not self.arrival.open_loop:
            return None
        return len(self.offsets_ns) / (self.end_s - self.start_s)


def build_schedule(phases: list[Phase], seed: int) -> list[PhaseSchedule]:
    rng = np.random.default_rng(seed)
    schedules, start = [], 0.0
    for index, phase in enumerate(phases):
        offsets_ns = np.round((start + phase.arrival.offsets_s(phase.duration, rng)) * NS_PER_S).astype(np.int64)
        # rounding to whole ns can put a last arrival a hair past its phase: it belongs inside
        offsets_ns = np.minimum(offsets_ns, int(round((start + phase.duration) * NS_PER_S)) - 1)
        name = phase.name or f"phase{index}"
        schedules.append(PhaseSchedule(index, name, start, start + phase.duration, offsets_ns, phase.arrival,
                                       phase.disturbance))
        start += phase.duration
    return schedules


def peak_arrivals(schedules: list[PhaseSchedule], window_s: float) -> int:
    """The most open-loop arrivals inside any window of `window_s`: a concurrency estimate."""
    offsets = np.sort(np.concatenate([s.offsets_ns for s in schedules] or [np.empty(0, np.int64)]))
    if offsets.size == 0:
        return 0
    ends = np.searchsorted(offsets, offsets + int(window_s * NS_PER_S), side="left")
    return int(np.max(ends - np.arange(offsets.size)))
