"""Which stored run a new run is judged against: `last-pass` (the scenario's newest run whose
SLOs passed and that no regression gate failed, with its records still on this machine) or
a run id from `slogate history`.

No last-pass yet is an answer, not an error: a gate with none says why and judges nothing.
A run id that names no usable run of the scenario is the user's error (BaselineError).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.history.regression import RECORDS
from harness.history.store import HistoryStore, RunEntry

LAST_PASS = "last-pass"
Choice = str | int  # LAST_PASS or a run id


class BaselineError(ValueError):
    """A baseline that cannot be used: no such run, a run of another scenario, one whose records
    are gone, or a malformed choice."""


@dataclass(frozen=True)
class Baseline:
    run: RunEntry | None
    reason: str = ""  # why there is none


def parse_choice(text: str) -> Choice:
    if text == LAST_PASS:
        return LAST_PASS
    try:
        return int(text.removeprefix("#"))
    except ValueError:
        raise BaselineError(f"baseline {text!r}: give {LAST_PASS} or a run id (`slogate history` lists them)") from None


def find_baseline(store: HistoryStore, scenario: str, choice: Choice, candidate_dir: Path) -> Baseline:
    candidate = str(candidate_dir.resolve())
    if choice == LAST_PASS:
        return _last_pass(store, scenario, candidate)
    run = store.run(int(choice))
    if run is None:
        raise BaselineError(f"no run #{choice} in the history")
    if run.scenario != scenario:
        raise BaselineError(f"baseline run #{choice} is a run of {run.scenario!r}, not of {scenario!r}")
    if not _has_records(run):
        raise BaselineError(f"baseline run #{choice}'s records are gone ({run.run_dir})")
    return Baseline(run)


def _last_pass(store: HistoryStore, scenario: str, candidate: str) -> Baseline:
    passing = [run for run in store.passing(scenario) if run.run_dir != candidate]
    found = next((run for run in passing if _has_records(run)), None)
    if found is not None:
        return Baseline(found)
    if passing:
        return Baseline(None, f"no baseline: {len(passing)} passing run(s) of {scenario!r} in the history "
                              f"(newest #{passing[0].id}), none with its records on this machine")
    return Baseline(None, f"no baseline yet: the history holds no passing run of {scenario!r}")


def _has_records(run: RunEntry) -> bool:
    return (Path(run.run_dir) / RECORDS).is_file()
