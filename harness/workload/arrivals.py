"""Arrival schedules: when each open-loop request is intended to be sent.

Each phase delivers exactly round(rate × duration) requests (vLLM's bench rescales its
gamma intervals for the same reason): a run's achieved rate is then a property of the
generator, not of sampling noise, and the rate-tolerance validity check stays meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.scenario import Arrival, Phase

NS = 1_000_000_000


@dataclass(frozen=True)
class PhaseSchedule:
    index: int
    name: str
    start_s: float
    end_s: float
    offsets_ns: np.ndarray  # int64, relative to the run's t0; empty for closed loop
    arrival: Arrival

    @property
    def target_rate(self) -> float | None:
        if not self.arrival.open_loop:
            return None
        return len(self.offsets_ns) / (self.end_s - self.start_s)


def build_schedule(phases: list[Phase], seed: int) -> list[PhaseSchedule]:
    rng = np.random.default_rng(seed)
    schedules, start = [], 0.0
    for index, phase in enumerate(phases):
        offsets = _offsets_s(phase.arrival, phase.duration, rng) if phase.arrival.open_loop else np.empty(0)
        offsets_ns = np.round((start + offsets) * NS).astype(np.int64)
        name = phase.name or f"phase{index}"
        schedules.append(PhaseSchedule(index, name, start, start + phase.duration, offsets_ns, phase.arrival))
        start += phase.duration
    return schedules


def _offsets_s(arrival: Arrival, duration: float, rng: np.random.Generator) -> np.ndarray:
    if arrival.process == "constant":
        return np.arange(_count(arrival.rate, duration)) / arrival.rate
    if arrival.process == "poisson":
        return _renewal(_count(arrival.rate, duration), duration, 1.0, rng)
    if arrival.process == "gamma":
        return _renewal(_count(arrival.rate, duration), duration, arrival.burstiness, rng)
    if arrival.process == "ramp":
        return _ramp(arrival.from_rate, arrival.to_rate, duration)
    if arrival.process == "trace":
        return _trace(arrival, duration)
    raise ValueError(f"no open-loop schedule for process {arrival.process!r}")


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


def _ramp(r0: float, r1: float, duration: float) -> np.ndarray:
    """Deterministic arrivals whose rate moves linearly from r0 to r1: invert Λ(t) = i."""
    n = int(round((r0 + r1) / 2 * duration))
    i = np.arange(n, dtype=float)
    slope = (r1 - r0) / duration
    if abs(slope) < 1e-12:
        return i / r0
    # Λ(t) = r0·t + slope·t²/2 = i  →  t = (−r0 + sqrt(r0² + 2·slope·i)) / slope
    return (-r0 + np.sqrt(np.maximum(r0 * r0 + 2 * slope * i, 0.0))) / slope


def _trace(arrival: Arrival, duration: float) -> np.ndarray:
    offsets = np.loadtxt(arrival.file, dtype=float, ndmin=1, comments="#", delimiter=",", usecols=0)
    offsets = np.sort(offsets) / arrival.speedup
    if offsets.size and offsets[0] < 0:
        raise ValueError(f"{arrival.file}: trace offsets must be ≥ 0 seconds")
    return offsets[offsets < duration]


def peak_arrivals(schedules: list[PhaseSchedule], window_s: float) -> int:
    """The most open-loop arrivals inside any window of `window_s`: a concurrency estimate."""
    offsets = np.sort(np.concatenate([s.offsets_ns for s in schedules] or [np.empty(0, np.int64)]))
    if offsets.size == 0:
        return 0
    ends = np.searchsorted(offsets, offsets + int(window_s * NS), side="left")
    return int(np.max(ends - np.arange(offsets.size)))
