"""The rate search of an outer-loop experiment: the highest offered rate at which a scenario's
SLOs pass, bracketed by doubling and narrowed by geometric bisection.

`search` knows nothing of how a rate is measured: `measure(rate)` runs whatever session
it likes (a `slogate run` child, an in-process `execute`) and returns anything with a
`rate` and an `outcome`. `classify` reads one run's summary into that outcome, keeping the
generator's own limits apart from the server's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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


def search(measure: Callable[[float], M], start: float, bisections: int, ceiling: float = 1e6,
           floor: float = 50.0) -> list[M]:
    """Double until the SLO breaks, then bisect (geometrically) between the last pass and the first miss.

    A generator-bound step ends the search: above it, the load tool could not say whether the target held.
    """
    steps = [measure(start)]
    while steps[-1].outcome == "pass" and steps[-1].rate * 2 <= ceiling:
        steps.append(measure(steps[-1].rate * 2))
    while steps[-1].outcome == "fail" and not passes(steps) and steps[-1].rate / 2 >= floor:
        steps.append(measure(steps[-1].rate / 2))
    if steps[-1].outcome == "generator-bound" or not passes(steps):
        return steps
    for _ in range(bisections):
        low = max(s.rate for s in steps if s.outcome == "pass")
        high = min(s.rate for s in steps if s.outcome != "pass" and s.rate > low)
        steps.append(measure(round(math.sqrt(low * high))))
        if steps[-1].outcome == "generator-bound":
            break
    return steps


def passes(steps: list[M]) -> list[M]:
    return [s for s in steps if s.outcome == "pass"]


def best(steps: list[M]) -> M | None:
    """The highest rate that passed."""
    passed = passes(steps)
    return max(passed, key=lambda s: s.rate) if passed else None
