"""Compare two sets of pytest-benchmark results: which benchmarks got slower, and by how much.

A benchmark counts as slower only when all three hold: its pooled median grew by more than
the threshold (10% by default); the two sides' interquartile ranges do not overlap (the
current first quartile lies above the base's third); and every current run's median lies
above every base run's. On a noisy shared box each test alone flags noise: medians of short
benchmarks move 10-20% between identical runs, two IQRs of 200 rounds can part over a 3%
change, and a box whose speed swings by the minute can slow one whole run. Even all three
can be fooled by a box this noisy: a 2-run compare of unchanged parsing code here called the
4,096-row parse 0.83x "faster", one of its runs having met a fast minute; hence 3 runs by
default. Faster is the mirror image. Each ratio carries a bootstrap
interval of the ratio of medians, from the rounds themselves.

Results are pytest-benchmark's JSON (`--benchmark-json`); several files per side (the
interleaved runs of `python -m benchmarks micro --compare`) pool their rounds when they
were saved with `--benchmark-save-data`, and otherwise combine their quartiles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

THRESHOLD = 0.10
BOOTSTRAP = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Timings:
    """One benchmark's seconds per round on one side, pooled over that side's runs."""

    median: float
    q1: float
    q3: float
    rounds: int
    data: np.ndarray | None  # every round, when the runs saved them
    run_medians: tuple[float, ...]  # each run's own median


@dataclass(frozen=True)
class Change:
    name: str
    base: Timings
    current: Timings
    ratio: float  # current median / base median
    interval: tuple[float, float] | None
    verdict: str  # "slower", "faster" or "same"


def read_results(path: Path) -> dict:
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a pytest-benchmark JSON file ({exc})") from None
    if not isinstance(results, dict) or not isinstance(results.get("benchmarks"), list):
        raise ValueError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return results


def pooled(results: Iterable[dict]) -> dict[str, Timings]:
    """Every benchmark's timings across the given runs, by full name."""
    stats: dict[str, list[dict]] = {}
    for result in results:
        for bench in result["benchmarks"]:
            stats.setdefault(bench["fullname"], []).append(bench["stats"])
    return {name: _timings(runs) for name, runs in stats.items()}


def _timings(runs: list[dict]) -> Timings:
    run_medians = tuple(float(run["median"]) for run in runs)
    if all("data" in run for run in runs):
        data = np.concatenate([np.asarray(run["data"], dtype=np.float64) for run in runs])
        q1, median, q3 = np.quantile(data, [0.25, 0.5, 0.75])
        return Timings(float(median), float(q1), float(q3), int(data.size), data, run_medians)
    quartiles = np.median([[run["q1"], run["median"], run["q3"]] for run in runs], axis=0)
    return Timings(float(quartiles[1]), float(quartiles[0]), float(quartiles[2]), sum(run["rounds"] for run in runs),
                   None, run_medians)


def compare(base: dict[str, Timings], current: dict[str, Timings], threshold: float = THRESHOLD) -> list[Change]:
    """The benchmarks both sides ran, each with its ratio and verdict."""
    rng = np.random.default_rng(0)
    changes = []
    for name in sorted(base.keys() & current.keys()):
        old, new = base[name], current[name]
        ratio = new.median / old.median
        if ratio > 1.0 + threshold and new.q1 > old.q3 and min(new.run_medians) > max(old.run_medians):
            verdict = "slower"
        elif ratio < 1.0 / (1.0 + threshold) and new.q3 < old.q1 and max(new.run_medians) < min(old.run_medians):
            verdict = "faster"
        else:
            verdict = "same"
        changes.append(Change(name, old, new, ratio, _ratio_interval(old, new, rng), verdict))
    return changes


def _ratio_interval(base: Timings, current: Timings, rng: np.random.Generator) -> tuple[float, float] | None:
    """Percentile bootstrap of median(current) / median(base) over the rounds."""
    if base.data is None or current.data is None:
        return None
    old = np.median(rng.choice(base.data, size=(BOOTSTRAP, base.data.size)), axis=1)
    new = np.median(rng.choice(current.data, size=(BOOTSTRAP, current.data.size)), axis=1)
    tail = (1.0 - CONFIDENCE) / 2.0
    lo, hi = np.quantile(new / old, [tail, 1.0 - tail])
    return float(lo), float(hi)


def only_in(one: dict[str, Timings], other: dict[str, Timings]) -> list[str]:
    return sorted(one.keys() - other.keys())


def render(changes: list[Change], base_label: str, current_label: str, threshold: float) -> str:
    header = f"{'benchmark':60} {base_label + ' median [IQR]':>30} {current_label + ' median [IQR]':>30} {'ratio [95%]':>22}  verdict"
    lines = [f"slower or faster: median beyond ±{threshold:.0%}, the IQRs apart and every run's median beyond the other side's",
             header]
    for change in changes:
        interval = "" if change.interval is None else f" [{change.interval[0]:.2f}, {change.interval[1]:.2f}]"
        lines.append(f"{_short(change.name):60} {_cell(change.base):>30} {_cell(change.current):>30} "
                     f"{change.ratio:>8.3f}{interval:>14}  {change.verdict}")
    return "\n".join(lines)


def _short(fullname: str) -> str:
    return fullname.removeprefix("benchmarks/micro/")


def _cell(timings: Timings) -> str:
    return f"{_duration(timings.median)} [{_duration(timings.q1)}–{_duration(timings.q3)}] ×{timings.rounds}"


def _duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
