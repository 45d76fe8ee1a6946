"""After a run's report is written: judge it against its baseline (where a gate asks) and store
it in the history. Called by the ways in (`slogate run`, the pytest plugin), never by analysis.

A history that cannot be written never costs the run: the problem is handed to `warn`, and
the run's verdict and exit code stand. A gate that cannot find or read its baseline says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from harness.analysis.canary import next_action
from harness.analysis.canary_judge import Judgement
from harness.analysis.judge_settings import JudgeSettings
from harness.history.baseline import Baseline, BaselineError, Choice, find_baseline
from harness.history.record import history_entry
from harness.history.regression import JUDGEMENT_FILE, gate_outcome, judge_runs, write_judgement
from harness.history.store import HistoryError, HistoryStore, RunEntry, shown

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Gate:
    """A regression gate to apply: the judge's settings and which baseline."""

    settings: JudgeSettings
    choice: Choice


@dataclass(frozen=True)
class Recorded:
    run_id: int | None  # None: the history could not be written
    baseline: Baseline | None = None  # the gate's, when one was asked for
    judgement: Judgement | None = None  # None: nothing was judged (baseline.reason, or `error`)
    error: str | None = None  # the gate could not judge: this fails its items


def record_run(run_dir: Path, scenario_file: Path, overrides: Sequence[str], url: str, warn: Warn,
               gate: Gate | None = None) -> Recorded:
    try:
        entry = history_entry(run_dir, scenario_file, overrides)
    except (OSError, ValueError, KeyError) as exc:
        warn(f"history: cannot read the run {run_dir}: {exc}")
        return Recorded(None, error=f"the run cannot be read: {exc}" if gate else None)
    try:
        with HistoryStore.open(url) as store:
            outcome = _judged(store, entry, run_dir, gate) if gate else Recorded(None)
            return replace(outcome, run_id=store.add(_with_outcome(entry, outcome)))
    except HistoryError as exc:
        warn(f"history: the run was not recorded: {exc}")
        return Recorded(None, Baseline(None, f"the history {shown(url)} is unavailable: {exc}") if gate else None)


def _judged(store: HistoryStore, entry: RunEntry, run_dir: Path, gate: Gate) -> Recorded:
    try:
        baseline = find_baseline(store, entry.scenario, gate.choice, run_dir)
    except BaselineError as exc:
        return Recorded(None, error=str(exc))
    if baseline.run is None:
        return Recorded(None, baseline)
    try:
        judgement = judge_runs(Path(baseline.run.run_dir), run_dir, gate.settings)
    except (OSError, ValueError, KeyError) as exc:
        return Recorded(None, baseline, error=f"cannot judge against baseline run #{baseline.run.id}: {exc}")
    write_judgement(run_dir / JUDGEMENT_FILE, f"#{baseline.run.id} {baseline.run.run_dir}", run_dir,
                    next_action(judgement.outcome, last=True), gate.settings, judgement)
    return Recorded(None, baseline, judgement)


def _with_outcome(entry: RunEntry, recorded: Recorded) -> RunEntry:
    if recorded.judgement is None or recorded.baseline is None or recorded.baseline.run is None:
        return entry
    return replace(entry, regression=gate_outcome(recorded.judgement), baseline_id=recorded.baseline.run.id)
