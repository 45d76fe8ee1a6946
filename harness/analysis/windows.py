"""Windows of a run's timeline that SLOs can be scoped to (`... in after(kill)`).

A run with faults has calm time and disturbed time. A fault disturbs from its start until
its end (for a process kill: until the server is ready again) plus a recovery allowance.

- `steady`: the measured time outside every disturbance;
- `before` / `after`: the steady time before the first fault starts / after the last one's
  allowance ends; `before(F)` / `after(F)` the same about fault F alone;
- `during` / `during(F)`: while any fault / fault F is active;
- `run`: all the measured time.

An SLO that names no window is judged over the whole run when there are no faults. With
faults it must hold `before` and `after` (two verdicts), and is reported `during` without
being judged: a fault is expected to hurt, and the question a game day asks is whether
the service was healthy before it and recovered after it. A run disturbed from its start
(a cold start) has no `before`, so only `after` is judged. Requests belong to the window
of their intended send time, except that a request still in flight when a disturbance
starts is its victim, not evidence about the calm before it: the calm windows leave it out
(a kill fails the few requests the server holds, and at the end of `before` they are a
burst that can make its availability inconclusive).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from harness.analysis.slo import SLO
from harness.contracts import FaultSpan

Intervals = tuple[tuple[float, float], ...]
CALM = ("steady", "before", "after")


@dataclass(frozen=True)
class Window:
    name: str  # as verdicts show it: "before", "after(kill)", "steady", "run"
    intervals: Intervals
    judged: bool = True  # False: reported beside the others, left out of the overall verdict
    in_flight_cut_s: tuple[float, ...] = ()  # requests in flight at these instants are left out

    @property
    def duration_s(self) -> float:
        return sum(hi - lo for lo, hi in self.intervals)


@dataclass(frozen=True)
class Timeline:
    """The measured span and the faults on it: what every window is cut from."""

    measured: tuple[float, float]
    faults: tuple[FaultSpan, ...]
    allowance_s: float

    def window(self, kind: str, fault: str | None = None, judged: bool = True) -> Window:
        name = kind if fault is None else f"{kind}({fault})"
        cuts = tuple(lo for lo, _ in self.disturbed()) if kind in CALM else ()
        return Window(name, self._intervals(kind, self._chosen(fault)), judged, cuts)

    def windows_for(self, slo: SLO, judge_during: bool = False) -> list[Window]:
        """The windows an SLO is evaluated in: the one it names, or the run's default."""
        if slo.window is not None:
            return [self.window(slo.window, slo.fault)]
        if not self.faults:
            return [self.window("run")]
        before = self.window("before")
        # a run that starts disturbed (a cold start from t0) has no calm before it to judge
        calm_first = [before] if before.duration_s > 0 else []
        return [*calm_first, self.window("during", judged=judge_during), self.window("after")]

    def disturbed(self) -> Intervals:
        return union((f.start_s, self.end_of(f) + self.allowance_s) for f in self.faults)

    def end_of(self, fault: FaultSpan) -> float:
        return self.measured[1] if fault.end_s is None else fault.end_s

    def _chosen(self, name: str | None) -> tuple[FaultSpan, ...]:
        if name is None:
            return self.faults
        chosen = tuple(f for f in self.faults if f.name == name)
        if not chosen:
            raise KeyError(f"no fault named {name!r}; the timeline has {', '.join(f.name for f in self.faults)}")
        return chosen

    def _intervals(self, kind: str, faults: tuple[FaultSpan, ...]) -> Intervals:
        run = (self.measured,)
        if kind == "run" or not self.faults:
            return run if kind in ("run", "steady", "before", "after") else ()
        steady = subtract(run, self.disturbed())
        if kind == "steady":
            return steady
        if kind == "before":
            return clip(steady, -math.inf, min(f.start_s for f in faults))
        if kind == "after":
            return clip(steady, max(self.end_of(f) for f in faults) + self.allowance_s, math.inf)
        return clip(union((f.start_s, self.end_of(f)) for f in faults), *self.measured)


def union(intervals: Iterable[tuple[float, float]]) -> Intervals:
    merged: list[list[float]] = []
    for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def subtract(intervals: Intervals, removed: Intervals) -> Intervals:
    left: list[tuple[float, float]] = []
    for lo, hi in intervals:
        cursor = lo
        for r_lo, r_hi in removed:
            if r_hi <= cursor or r_lo >= hi:
                continue
            if r_lo > cursor:
                left.append((cursor, r_lo))
            cursor = max(cursor, r_hi)
        if cursor < hi:
            left.append((cursor, hi))
    return tuple(left)


def clip(intervals: Intervals, lo: float, hi: float) -> Intervals:
    return tuple((max(a, lo), min(b, hi)) for a, b in intervals if min(b, hi) > max(a, lo))
