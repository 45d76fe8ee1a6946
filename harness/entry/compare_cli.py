"""`slogate compare BASE_RUN CAND_RUN`: the canary judge on two stored runs (the same scenario
against two builds). Every request after each run's warm-up is one version's sample.

Exit codes: 0 promote; 1 rollback (the candidate regressed); 2 usage error or unreadable
run; 3 inconclusive (too few requests: it says how many more).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.analysis.canary import next_action
from harness.analysis.canary_judge import (
    DEFAULT_ALLOWED,
    METRIC_GROUPS,
    Judgement,
    JudgeSettings,
    judge,
    version_sample,
)
from harness.records import read_records
from harness.units import parse_duration, parse_ratio

USAGE_ERROR = 2
EXIT_CODES = {"promote": 0, "rollback": 1, "inconclusive": 3}
RECORDS = "requests.parquet"


def add_compare_parser(commands: Any) -> None:
    parser = commands.add_parser("compare", help="judge a candidate run against a baseline run (canary judge)")
    parser.add_argument("baseline", type=Path, metavar="BASE_RUN")
    parser.add_argument("candidate", type=Path, metavar="CAND_RUN")
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
    try:
        settings = _settings(args)
        baseline, candidate = (_run_sample(path, label) for path, label in ((args.baseline, "baseline"),
                                                                               (args.candidate, "candidate")))
    except (OSError, ValueError, KeyError) as exc:
        print(f"slogate compare: {exc}", file=sys.stderr)
        return USAGE_ERROR
    judgement = judge(baseline, candidate, settings)
    decision = next_action(judgement.outcome, last=True)
    out = args.out or args.candidate / "compare.json"
    out.write_text(json.dumps({"baseline_run": str(args.baseline), "candidate_run": str(args.candidate),
                               "decision": decision, "settings": settings.to_dict(), **judgement.to_dict()},
                              indent=2, default=float))
    _print(Console(), judgement, decision, out)
    return EXIT_CODES[decision]


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


def _run_sample(run_dir: Path, label: str):
    path = run_dir / RECORDS
    if not path.is_file():
        raise OSError(f"{run_dir}: no {RECORDS} (is it a run directory?)")
    records = read_records(path)
    measured = records[~records["in_warmup"]].assign(model_version=label)
    return version_sample(measured, label)


def _print(console: Console, judgement: Judgement, decision: str, out: Path) -> None:
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
