"""`slogate`: run scenarios, rebuild reports, search capacity, serve the reference server.

Exit codes: 0 pass; 1 an SLO failed; 2 usage, scenario or target error;
3 the run is invalid or inconclusive (`--inconclusive-ok` maps 3 to 0).
`slogate capacity`, `slogate compare`, `slogate rules` and `slogate locust-worker` have their
own (capacity_cli.py, compare_cli.py, rules_cli.py, locust_worker_cli.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from harness.entry.capacity_cli import add_capacity_parser
from harness.entry.compare_cli import add_compare_parser
from harness.entry.console import print_verdict
from harness.entry.eventloop import run as run_loop
from harness.entry.history_cli import add_history_parser, add_history_url_option
from harness.entry.locust_worker_cli import add_locust_worker_parser
from harness.entry.rules_cli import add_rules_parser
from harness.scenario.loader import ScenarioError, load_scenario
from harness.targets.base import TargetError

USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    # parse_known_args: argparse's REMAINDER drops a remainder that starts with an option, and
    # every server flag does (`slogate serve --model-repo …`)
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "command", None) == "serve":
        args.server_args = unknown + args.server_args
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "command", None):
        parser.print_help()
        return USAGE_ERROR
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slogate", description="Gate model-serving releases on SLOs.")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run scenario files and judge their SLOs")
    run.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO")
    run.add_argument("--target-url", help="send load to this endpoint instead of the scenario's target")
    run.add_argument("--out", type=Path, default=Path("reports"), help="root of run directories (default: reports/)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario field, e.g. workload.phases.0.arrival.rate=200")
    run.add_argument("--procs", type=int, metavar="N",
                     help="split the schedule across N sending processes (the same as --set workload.procs=N)")
    run.add_argument("--engine", choices=["slogate", "locust"],
                     help="who sends: slogate's own processes, or a locust master and its workers (workload.engine)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="locust workers with --engine locust, each sending a shard (workload.procs)")
    run.add_argument("--inconclusive-ok", action="store_true", help="exit 0 instead of 3 for inconclusive or invalid runs")
    add_history_url_option(run, "in the --out directory")
    run.set_defaults(handler=_run)

    report = commands.add_parser("report", help="rebuild report.html and plots from a run directory's records")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.set_defaults(handler=_report)

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO")
    validate.set_defaults(handler=_validate)

    add_capacity_parser(commands)
    add_compare_parser(commands)
    add_rules_parser(commands)
    add_history_parser(commands)
    add_locust_worker_parser(commands)

    serve = commands.add_parser("serve", help="start the reference server (same flags as python -m reference_server)",
                                add_help=False)
    serve.add_argument("server_args", nargs=argparse.REMAINDER)
    serve.set_defaults(handler=_serve)
    return parser


def _run(args: argparse.Namespace) -> int:
    from harness.session.runner import ReportWriteError, execute

    console = Console(stderr=True)
    worst = 0
    if args.workers is not None and (args.engine != "locust" or args.procs is not None):
        print("slogate run: --workers counts locust workers: give it with --engine locust, not with --procs",
              file=sys.stderr)
        return USAGE_ERROR
    args.overrides += _sending_overrides(args)
    for path in args.scenarios:
        try:
            scenario = load_scenario(path, args.overrides)
            result = run_loop(execute(scenario, args.out, args.target_url, console))
        except ScenarioError as exc:
            print(f"scenario error:\n{exc}", file=sys.stderr)  # plain: rich would wrap file:line
            return USAGE_ERROR
        except TargetError as exc:
            print(f"target error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except ReportWriteError as exc:
            print(f"slogate run: {exc}", file=sys.stderr)
            return USAGE_ERROR
        print_verdict(Console(), result.summary, result.run_dir)
        _record(result.run_dir, path, args)
        worst = _worse(worst, result.exit_code(args.inconclusive_ok))
    return worst


def _sending_overrides(args: argparse.Namespace) -> list[str]:
    """The sending options as the scenario keys they set: validated, located and recorded as those."""
    procs = args.workers if args.workers is not None else args.procs
    return ([] if args.engine is None else [f"workload.engine={args.engine}"]) + \
        ([] if procs is None else [f"workload.procs={procs}"])


def _record(run_dir: Path, scenario_file: Path, args: argparse.Namespace) -> None:
    """Store the finished run in the history; a failure is a warning and the exit code stands."""
    from harness.history.recording import record_run
    from harness.history.store import history_url, shown

    url = history_url(args.history_url, args.out)
    recorded = record_run(run_dir, scenario_file, args.overrides, url, warn=lambda text: print(text, file=sys.stderr))
    if recorded.run_id is not None:
        print(f"history: run #{recorded.run_id} in {shown(url)}")


def _worse(a: int, b: int) -> int:
    """Combine exit codes across scenarios: fail (1) outranks inconclusive (3) outranks pass."""
    rank = {0: 0, 3: 1, 1: 2, 2: 3}
    return max(a, b, key=rank.__getitem__)


def _report(args: argparse.Namespace) -> int:
    from harness.entry.rebuild import rebuild_report

    try:
        summary = rebuild_report(args.run_dir)
    except (OSError, ValueError, KeyError) as exc:
        print(f"slogate report: {args.run_dir}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print_verdict(Console(), summary, args.run_dir)
    return 0


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.scenarios:
        try:
            scenario = load_scenario(path)
            print(f"{path}: ok ({scenario.name}, {len(scenario.workload.phases)} phases, {len(scenario.slos)} SLOs)")
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            status = USAGE_ERROR
    return status


def _serve(args: argparse.Namespace) -> int:
    # The harness never imports the server: `serve` hands this process over to it.
    os.execv(sys.executable, [sys.executable, "-m", "reference_server", *args.server_args])
    return 0  # not reached
