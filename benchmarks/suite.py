"""The peer suite's spine: what a benchmark is, what it returns, and the registry.

A benchmark measures slogate (or its reference server) and its peers in one run and
returns a `BenchResult`: tables of figures, the goal checks (ratios against a peer measured
in the same run), plots and notes. It knows nothing about RESULTS.md; `results_md` renders
whatever comes back, so adding a benchmark is a module with one registered class.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from slogate_common.registry import Registry


@dataclass(frozen=True)
class Mode:
    """How long to measure. `quick` keeps the whole suite near 10 minutes here; `tiny` is
    the CI smoke test of the plumbing, whose figures mean nothing."""

    name: str  # "full" | "quick" | "tiny"

    def pick(self, full, quick, tiny=None):
        """The setting for this mode; tiny falls back to quick's."""
        if self.name == "full":
            return full
        if self.name == "tiny" and tiny is not None:
            return tiny
        return quick


@dataclass
class Context:
    mode: Mode
    work: Path  # scratch: logs, generated scenarios, the tools' raw reports
    figures_dir: Path  # where PNGs go, beside RESULTS.md
    cache: Path  # demo repository, peers' venvs

    def log(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]]


@dataclass
class Goal:
    """One claim checked against a peer measured in the same run."""

    claim: str  # "server rate at SLO, ours / FastAPI"
    measured: float | None  # None: the run could not produce it
    target: str  # "≥ 1.5×"
    met: bool | None
    unit: str = "×"
    interval: tuple[float, float] | None = None  # where the measured figure has one: met only when it says so


@dataclass
class BenchResult:
    key: str
    title: str
    method: str
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    micro: tuple[str, ...] = ()  # the micro-benchmarks (benchmarks/micro) that guard its figures between commits


class Benchmark(Protocol):
    key: str
    title: str
    micro: tuple[str, ...]  # pytest node ids under benchmarks/micro whose slowdown would move this figure

    def run(self, ctx: Context) -> BenchResult: ...


BENCHMARKS: Registry[Callable[[], Benchmark]] = Registry("benchmark", builtins="benchmarks.catalog")


def register(key: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        cls.key = key
        BENCHMARKS.add(key, cls)
        return cls

    return add


def at_least(claim: str, measured: float | None, goal: float, unit: str = "×") -> Goal:
    return Goal(claim, measured, f"≥ {goal:g}{unit}", None if measured is None else measured >= goal, unit)


def at_least_surely(claim: str, measured: float | None, interval: tuple[float, float] | None, goal: float,
                    unit: str = "×") -> Goal:
    """Met when the interval's lower end reaches the goal, missed when its upper end falls short;
    otherwise neither (`met` None with an interval: inconclusive)."""
    if measured is None or interval is None:
        return Goal(claim, measured, f"≥ {goal:g}{unit}", None, unit)
    lo, hi = interval
    met = True if lo >= goal else False if hi < goal else None
    return Goal(claim, measured, f"≥ {goal:g}{unit}", met, unit, interval)


def at_most_surely(claim: str, measured: float | None, interval: tuple[float, float] | None, goal: float,
                   unit: str = "×") -> Goal:
    if measured is None or interval is None:
        return Goal(claim, measured, f"≤ {goal:g}{unit}", None, unit)
    lo, hi = interval
    met = True if hi <= goal else False if lo > goal else None
    return Goal(claim, measured, f"≤ {goal:g}{unit}", met, unit, interval)


def at_most(claim: str, measured: float | None, goal: float, unit: str = "×") -> Goal:
    return Goal(claim, measured, f"≤ {goal:g}{unit}", None if measured is None else measured <= goal, unit)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def within(claim: str, measured: float | None, low: float, high: float) -> Goal:
    met = None if measured is None else low <= measured <= high
    return Goal(claim, measured, f"{low:g}–{high:g}×", met)
