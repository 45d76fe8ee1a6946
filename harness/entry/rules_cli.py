"""`slogate rules SCENARIO... [-o FILE]`: the scenarios' SLOs as Prometheus recording and
burn-rate alerting rules (harness/rules/), with promtool unit tests on request.

Exit codes: 0 the file is written; 2 a usage, scenario or metric-profile error (the message
names file, line and field), or no SLO of the scenarios has a Prometheus SLI. SLOs that have
none are listed in the file and warned about on stderr, never dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.analysis.burn_windows import WORKBOOK, WORKBOOK_PERIOD_S
from harness.located import ConfigError
from harness.rules.profiles import SHIPPED, Labels, load_profile
from harness.scenario.loader import load_scenario
from harness.units import parse_duration

if TYPE_CHECKING:
    from harness.rules.rule_file import RuleSet

USAGE_ERROR = 2


def add_rules_parser(commands: Any) -> None:
    parser = commands.add_parser("rules", help="write Prometheus SLI recording and burn-rate alerting rules for the "
                                               "scenarios' SLOs")
    parser.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO")
    parser.add_argument("-o", "--output", type=Path, help="the rule file (default: standard output)")
    parser.add_argument("--metrics", default="slogate", metavar="PROFILE",
                        help=f"where the SLIs are: a shipped profile ({', '.join(SHIPPED)}) or a profile YAML file")
    parser.add_argument("--slo-period", type=parse_duration, default=WORKBOOK_PERIOD_S, metavar="DURATION",
                        help="the period the error budget and burn rates are reckoned over (default 30d)")
    parser.add_argument("--window-scale", type=float, default=1.0, metavar="N",
                        help="divide every window by N: a game day compressed N× (default 1)")
    parser.add_argument("--match", action="append", default=[], metavar="LABEL=VALUE",
                        help="a label every SLI series must carry, e.g. job=fraud (repeatable)")
    parser.add_argument("--tests", type=Path, metavar="FILE",
                        help="also write promtool unit tests (synthetic burns) for the rule file; needs -o")
    parser.set_defaults(handler=rules_command)


def rules_command(args: argparse.Namespace) -> int:
    try:
        rules = _rule_set(args)
    except (ConfigError, ValueError) as exc:
        print(f"slogate rules: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for service, skip in rules.skipped:
        print(f"slogate rules: warning: {service}: skipped {skip.expr!r}: {skip.reason}", file=sys.stderr)
    if not rules.slos:
        print("slogate rules: no SLO of these scenarios has a Prometheus SLI: nothing to write", file=sys.stderr)
        return USAGE_ERROR
    text = rules.rules_yaml()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    args.output.write_text(text)
    if args.tests is not None:
        args.tests.write_text(rules.tests_yaml(_relative(args.output, args.tests.parent)))
    print(f"slogate rules: {args.output}: {len(rules.slos)} SLOs, {len(rules.skipped)} skipped", file=sys.stderr)
    return 0


def _rule_set(args: argparse.Namespace) -> RuleSet:
    # the budget's analysis imports scipy: loaded for this command only, not at every `slogate` start
    from harness.rules.burn import AlertPolicy, duration
    from harness.rules.rule_file import RuleSet

    if args.tests is not None and args.output is None:
        raise ValueError("--tests: the tests name the rule file: give -o FILE too")
    if args.window_scale <= 0:
        raise ValueError(f"--window-scale: a positive number, got {args.window_scale:g}")
    longest = max(w.long_s for w in WORKBOOK)
    if args.slo_period <= longest:
        raise ValueError(f"--slo-period: longer than the longest alert window ({duration(longest)}), "
                         f"got {duration(args.slo_period)}")
    rules = RuleSet(load_profile(args.metrics), AlertPolicy(args.slo_period, args.window_scale))
    extra = _matchers(args.match)
    for path in args.scenarios:
        rules.add(str(path), load_scenario(path), extra)
    return rules


def _matchers(items: list[str]) -> Labels:
    matchers = {}
    for item in items:
        label, sep, value = item.partition("=")
        if not sep or not label.isidentifier():
            raise ValueError(f"--match {item!r}: expected LABEL=VALUE, e.g. job=fraud")
        matchers[label] = value
    return matchers


def _relative(path: Path, start: Path) -> str:
    """How a file in `start` names `path` (promtool resolves rule_files from the test file's folder)."""
    try:
        return str(path.resolve().relative_to(start.resolve()))
    except ValueError:
        return str(path.resolve())
