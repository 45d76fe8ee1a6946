"""`slogate compare BASE_RUN CAND_RUN`: the canary judge on two stored runs (the same scenario
against two builds). Every request after each run's warm-up is one version's sample.

`slogate compare --baseline last-pass|RUN_ID CAND_RUN` takes the baseline from the run history:
the scenario's newest passing run, or a run id that `slogate history` lists. The outcome is
written back to the candidate's history entry, so a run that regressed is no later run's
last-pass.

Exit codes: 0 promote; 1 rollback (the candidate regressed); 2 usage error or unreadable
run; 3 inconclusive (too few requests: it says how many more; or no baseline in the history yet).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from harness.analysis.judge_settings import DEFAULT_ALLOWED, METRIC_GROUPS, JudgeSettings
from harness.entry.history_cli import add_history_url_option
from harness.units import parse_duration, parse_ratio

if TYPE_CHECKING:
    from harness.analysis.canary_judge import Judgement
    from harness.history.baseline import Baseline

USAGE_ERROR = 2
EXIT_CODES = {"promote": 0, "rollback": 1, "inconclusive": 3}


def add_compare_parser(commands: Any) -> None:
    parser = commands.add_parser("compare", help="judge a candidate run against a baseline run (canary judge)",
                                 usage="slogate compare [options] (BASE_RUN | --baseline last-pass|RUN_ID) CAND_RUN")
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="BASE_RUN CAND_RUN, or CAND_RUN with --baseline")
    parser.add_argument("--baseline", dest="stored_baseline", metavar="last-pass|RUN_ID",
                        help="judge CAND_RUN against a run from the history: the scenario's newest passing run, or an id")
    add_history_url_option(parser, "in the reports directory CAND_RUN lies in (<reports>/<scenario>/<time>)")
    parser.add_argument("--metrics", default="latency,error_rate",
                        help=f"comma-separated metric groups (of {', '.join(METRIC_GROUPS)})")
    parser.add_argument("--allowed-increase", action="append", default=[], metavar="GROUP=RATIO",
                        help="e.g. latency=10%% (defaults: " + ", ".join(f"{g} {v:g}" for g, v in DEFAULT_ALLOWED.items()) + ")")
    parser.add_argument("--critical", default="", help="comma-separated metrics that fail the comparison alone")
    parser.add_argument("--latency-slack", type=parse_duration, default=0.0, metavar="DURATION",
                        help="a latency increase smaller than this (e.g. 5ms) is no regression")
    parser.add_argument("--confidence", type=float, default=0.98)
    parser.add_argument("--out", type=Path, help="where to write the judgement (default: CAND_RUN/compare.json)")
    parser.set_defaults(handler=compare_command)


def compare_command(args: argparse.Namespace) -> int:
    # the judge (scipy) and the history (SQLAlchemy, ~0.3 s) load for this command only, not for every `slogate run`
    from harness.analysis.canary import next_action
    from harness.history.regression import JUDGEMENT_FILE, judge_runs, write_judgement
    from harness.history.store import HistoryError

    try:
        settings = _settings(args)
        baseline_dir, candidate_dir, stored = _runs(args)
        if baseline_dir is None:
            print(f"slogate compare: {stored.reason}", file=sys.stderr)
            return EXIT_CODES["inconclusive"]
        judgement = judge_runs(baseline_dir, candidate_dir, settings)
    except (OSError, ValueError, KeyError, HistoryError) as exc:
        print(f"slogate compare: {exc}", file=sys.stderr)
        return USAGE_ERROR
    decision = next_action(judgement.outcome, last=True)
    out = args.out or candidate_dir / JUDGEMENT_FILE
    baseline_label = f"#{stored.run.id} {baseline_dir}" if stored else str(baseline_dir)
    write_judgement(out, baseline_label, candidate_dir, decision, settings, judgement)
    _print(Console(), judgement, decision, out, baseline_label)
    if stored:
        _record_outcome(stored, candidate_dir, args, judgement)
    return EXIT_CODES[decision]


def _runs(args: argparse.Namespace) -> tuple[Path | None, Path, Baseline | None]:
    """(baseline run directory or None, candidate run directory, the stored baseline looked up)."""
    wanted = 1 if args.stored_baseline else 2
    if len(args.runs) != wanted:
        raise ValueError("give BASE_RUN CAND_RUN, or --baseline last-pass|RUN_ID CAND_RUN")
    if not args.stored_baseline:
        return args.runs[0], args.runs[1], None
    from harness.history.baseline import find_baseline, parse_choice
    from harness.history.store import HistoryStore

    candidate = args.runs[0]
    choice = parse_choice(args.stored_baseline)
    scenario = json.loads((candidate / "summary.json").read_text())["scenario"]
    with HistoryStore.open(_history_url(args, candidate), create=False) as store:
        stored = find_baseline(store, scenario, choice, candidate)
    return (None if stored.run is None else Path(stored.run.run_dir)), candidate, stored


def _history_url(args: argparse.Namespace, candidate: Path) -> str:
    """Given, else $SLOGATE_HISTORY_URL, else the history beside the run: RUN_DIR is <reports>/<scenario>/<time>."""
    from harness.history.store import history_url

    return history_url(args.history_url, candidate.resolve().parent.parent)


def _record_outcome(stored: Baseline, candidate: Path, args: argparse.Namespace, judgement: Judgement) -> None:
    """Write the gate's outcome into the candidate's history entry; a failure is a warning."""
    from harness.history.regression import gate_outcome
    from harness.history.store import HistoryError, HistoryStore

    try:
        with HistoryStore.open(_history_url(args, candidate), create=False) as store:
            entry = store.run_at(candidate)
            if entry is not None and entry.id is not None and stored.run is not None:
                store.set_regression(entry.id, gate_outcome(judgement), stored.run.id)
    except HistoryError as exc:
        print(f"slogate compare: the outcome was not recorded in the history: {exc}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> JudgeSettings:
    metrics = tuple(name.strip() for name in args.metrics.split(",") if name.strip())
    unknown = [name for name in metrics if name not in METRIC_GROUPS]
    if unknown or not metrics:
        raise ValueError(f"--metrics: {unknown[0] if unknown else 'none'}: choose from {', '.join(METRIC_GROUPS)}")
    allowed = dict(DEFAULT_ALLOWED)
    for item in args.allowed_increase:
        group, _, value = item.partition("=")
        if group not in METRIC_GROUPS or not value:
            raise ValueError(f"--allowed-increase {item!r}: expected GROUP=RATIO, GROUP one of {', '.join(METRIC_GROUPS)}")
        allowed[group] = parse_ratio(value)
    if not 0.5 < args.confidence < 1:
        raise ValueError("--confidence: between 0.5 and 1, e.g. 0.98")
    critical = tuple(name.strip() for name in args.critical.split(",") if name.strip())
    return JudgeSettings(metrics=metrics, confidence=args.confidence, allowed_increase=allowed, critical=critical,
                         latency_slack_ms=args.latency_slack * 1e3)


def _print(console: Console, judgement: Judgement, decision: str, out: Path, baseline: str) -> None:
    console.print(f"baseline: {baseline}", highlight=False, soft_wrap=True)
    table = Table(title=f"{decision.upper()} · score {judgement.score:.4g} · {judgement.baseline_requests:,} vs "
                        f"{judgement.candidate_requests:,} requests")
    for column in ("metric", "label", "baseline", "candidate", "effect", "interval", "p-value"):
        table.add_column(column)
    for m in judgement.metrics:
        table.add_row(m.name, m.label, f"{m.baseline:.4g}", f"{m.candidate:.4g}", f"{m.effect:.4g} {m.unit}",
                      f"[{m.ci[0]:.4g}, {m.ci[1]:.4g}]", f"{m.p_value:.3g}" if m.detail == "" else m.detail)
    console.print(table)
    if decision == "inconclusive":
        console.print(f"too little data: {judgement.needed:,} more requests of the smaller run are needed")
    console.print(f"judgement: {out}")
