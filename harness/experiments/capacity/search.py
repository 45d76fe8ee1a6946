"""The rate search of an outer-loop experiment: the highest offered rate at which a scenario's
SLOs pass, bracketed by doubling and narrowed by geometric bisection.

`search` knows nothing of how a rate is measured: `measure(rate)` runs whatever session
it likes (a `slogate run` child, an in-process `execute`) and returns anything with a
`rate` and an `outcome`. `classify` reads one run's summary into that outcome, keeping the
generator's own limits apart from the server's; `confirming` retries a miss once; `bracket`
says what a finished search found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from harness.analysis.slo import OPS

Outcome = Literal["pass", "fail", "generator-bound"]


class Measured(Protocol):
    rate: float
    outcome: str


M = TypeVar("M", bound=Measured)


def classify(summary: dict[str, Any], estimate_only: tuple[str, ...] = ()) -> tuple[Outcome, str]:
    """Did the target meet every SLO at this rate? A point estimate past its threshold is a
    miss even before the bounds certify it; a run whose own load was invalid says nothing
    about the target (generator-bound), unless the target already missed. The SLOs named in
    `estimate_only` need only their point estimate to hold (an error rate of 0.1% cannot be
    certified in a short step: 3,000 requests without one failure are needed)."""
    load = summary["load"]
    if load.get("safety_valve_hit"):
        return "fail", "requests piled up past the in-flight limit"
    slos = summary["slos"]
    missing = [slo for slo in slos if slo["estimate"] is None]
    if missing:
        return "fail", f"{missing[0]['expr']}: {missing[0]['reason']}"
    missed = [slo for slo in slos if slo["verdict"] == "fail" or not _estimate_holds(slo)]
    if missed:
        return "fail", "; ".join(f"{slo['expr']}: {slo['reason']}" for slo in missed)
    if not load["valid"]:
        return "generator-bound", "; ".join(load["invalid_reasons"])
    unproven = [slo for slo in slos if slo["verdict"] != "pass" and slo["expr"] not in estimate_only]
    if unproven:
        return "fail", "not shown to meet " + "; ".join(f"{slo['expr']}: {slo['reason']}" for slo in unproven)
    return "pass", "; ".join(slo["reason"] for slo in slos)


def _estimate_holds(slo: dict[str, Any]) -> bool:
    return OPS[slo["op"]](slo["estimate"], slo["threshold"])


class RateSearch:
    """The search's plan, one step at a time: ask `next_rate()`, measure it, `record()` the
    step, until `next_rate()` is None. Callers sync or async drive it alike."""

    def __init__(self, start: float, bisections: int, ceiling: float = 1e6, floor: float = 50.0,
                 max_steps: int | None = None) -> None:
        self.start, self.bisections, self.ceiling, self.floor, self.max_steps = start, bisections, ceiling, floor, max_steps
        self.steps: list[Any] = []
        self.bisected = 0

    def next_rate(self) -> float | None:
        """Double until the SLO breaks (halve until it holds), then bisect geometrically between
        the last pass and the first miss. A generator-bound step ends the search: above it, the
        load tool could not say whether the target held."""
        if self.max_steps is not None and len(self.steps) >= self.max_steps:
            return None
        if not self.steps:
            return self.start
        last, found = self.steps[-1], bracket(self.steps)
        if last.outcome == "generator-bound":
            return None
        if found.highest_pass is None:
            return last.rate / 2 if last.rate / 2 >= self.floor else None
        if found.lowest_miss is None:
            return last.rate * 2 if last.rate * 2 <= self.ceiling else None
        middle = round(math.sqrt(found.highest_pass * found.lowest_miss))
        if self.bisected >= self.bisections or middle in (found.highest_pass, found.lowest_miss):
            return None  # done, or whole req/s cannot narrow the bracket further
        return middle

    def record(self, step: Any) -> None:
        found = bracket(self.steps) if self.steps else None
        if found is not None and found.highest_pass is not None and found.lowest_miss is not None:
            self.bisected += 1
        self.steps.append(step)


def search(measure: Callable[[float], M], start: float, bisections: int, ceiling: float = 1e6,
           floor: float = 50.0, max_steps: int | None = None) -> list[M]:
    """Run a `RateSearch` to its end with a synchronous `measure`."""
    plan = RateSearch(start, bisections, ceiling, floor, max_steps)
    while (rate := plan.next_rate()) is not None:
        plan.record(measure(rate))
    return plan.steps


def confirming(measure: Callable[[float], M], retried: list[M]) -> Callable[[float], M]:
    """A miss counts only when a second run at the same rate misses too: shared machines have
    whole-machine slowdowns of a few seconds that can sink one step of any server. The first
    runs of confirmed or overturned misses go to `retried`, to be shown beside the steps."""

    def measure_confirmed(rate: float) -> M:
        first = measure(rate)
        if first.outcome != "fail":
            return first
        retried.append(first)
        return measure(rate)

    return measure_confirmed


@dataclass(frozen=True)
class Bracket:
    """Where a search left the capacity: at least `highest_pass`, below `lowest_miss`."""

    highest_pass: float | None
    lowest_miss: float | None  # the lowest rate above highest_pass that did not pass; None: no miss seen
    ended_by: str  # "bracketed", "generator-bound", "no miss up to the ceiling", "no pass above the floor"

    @property
    def width(self) -> float | None:
        """lowest_miss / highest_pass - 1: how uncertain the capacity still is."""
        if self.highest_pass is None or self.lowest_miss is None:
            return None
        return self.lowest_miss / self.highest_pass - 1.0


def bracket(steps: list[M]) -> Bracket:
    top = best(steps)
    if top is None:
        return Bracket(None, min((s.rate for s in steps), default=None), "no pass above the floor")
    above = [s for s in steps if s.outcome != "pass" and s.rate > top.rate]
    if not above:
        return Bracket(top.rate, None, "no miss up to the ceiling")
    lowest = min(above, key=lambda s: s.rate)
    ended_by = "generator-bound" if lowest.outcome == "generator-bound" else "bracketed"
    return Bracket(top.rate, lowest.rate, ended_by)


def passes(steps: list[M]) -> list[M]:
    return [s for s in steps if s.outcome == "pass"]


def best(steps: list[M]) -> M | None:
    """The highest rate that passed."""
    passed = passes(steps)
    return max(passed, key=lambda s: s.rate) if passed else None
