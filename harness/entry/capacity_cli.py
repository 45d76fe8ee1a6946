"""`slogate capacity SCENARIO`: the command line of the capacity search.

Exit codes: 0 the capacity is bracketed; 1 no step passed; 2 usage, scenario, catalog or
target error (before any load is sent); 3 only a lower bound was found (no miss up to the
ceiling or the step limit, or the generator could not go higher).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from harness.entry.eventloop import run as run_loop
from harness.experiments.capacity.settings import CapacitySettings
from harness.experiments.cost.catalog import SHIPPED_CATALOG, load_catalog
from harness.experiments.cost.experiment import cost_facts
from harness.located import ConfigError
from harness.scenario.loader import load_scenario, scenario_error_at
from harness.scenario.model import Scenario
from harness.targets.base import TargetError
from harness.units import parse_ratio

USAGE_ERROR = 2
# --quick: a bounded search for CI; it checks the search's invariants, not the capacity
QUICK = {"max_steps": 4, "bisections": 1, "step_duration": 3.0, "max_step_duration": 6.0, "warmup": 1.0,
         "confirm_misses": False}


def add_capacity_parser(commands: Any) -> None:
    parser = commands.add_parser("capacity", help="find the highest rate that meets every SLO; replicas and cost")
    parser.add_argument("scenario", type=Path, metavar="SCENARIO")
    parser.add_argument("--peak", type=float, help="req/s the fleet must serve: report replicas for it")
    parser.add_argument("--headroom", type=parse_ratio, help="spare capacity at the peak (default 30%%)")
    parser.add_argument("--catalog", type=Path, help="price catalog YAML (default: the shipped one)")
    parser.add_argument("--instance", action="append", default=[], help="price the capacity on this catalog "
                        "instance (repeatable; default: the scenario's cost.instance)")
    parser.add_argument("--max-steps", type=int, help="at most this many steps (retries not counted)")
    parser.add_argument("--quick", action="store_true", help="a bounded search (4 steps of 3-6 s): for CI")
    parser.add_argument("--target-url", help="search this endpoint instead of the scenario's target")
    parser.add_argument("--out", type=Path, default=Path("reports/capacity"), help="default: reports/capacity/")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.set_defaults(handler=capacity_command)


def capacity_command(args: argparse.Namespace) -> int:
    from harness.outer.capacity import Pricing, run_capacity

    try:
        scenario = load_scenario(args.scenario, args.overrides)
        _check_searchable(scenario, args.scenario)
        settings = _settings(scenario, args)
        pricing = Pricing(_instances(scenario, args), settings.peak_rate, settings.headroom)
        result = run_loop(run_capacity(scenario, settings, pricing, args.out, args.target_url, Console(stderr=True)))
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return USAGE_ERROR
    except TargetError as exc:
        print(f"target error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    _print(result.summary, result.out_dir)
    return result.exit_code


def _check_searchable(scenario: Scenario, path: Path) -> None:
    from harness.outer.capacity_steps import knob_of  # its analysis imports scipy: not at every `slogate` start

    if knob_of(scenario) is None:
        process = scenario.workload.phases[0].arrival.process
        raise scenario_error_at(path, ["workload", "phases", 0, "arrival", "process"],
                                f"a capacity search turns the first phase's `rate` or `concurrency`; {process} has neither")
    if "faults" in scenario.experiment_blocks():
        raise scenario_error_at(path, ["faults"], "a capacity search runs no fault timeline: capacity under "
                                                  "faults is a game day (`slogate run`)")


def _settings(scenario: Scenario, args: argparse.Namespace) -> CapacitySettings:
    updates = dict(QUICK) if args.quick else {}
    for key, value in (("peak_rate", args.peak), ("headroom", args.headroom), ("max_steps", args.max_steps)):
        if value is not None:
            updates[key] = value
    base = (scenario.capacity or CapacitySettings()).model_dump()
    try:
        return CapacitySettings.model_validate(base | updates)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{args.scenario}: capacity settings (with the command line's): {fields}") from None


def _instances(scenario: Scenario, args: argparse.Namespace) -> tuple[dict[str, Any], ...]:
    block = scenario.experiment_blocks().get("cost")
    names = args.instance or ([block.instance] if block else [])
    catalog = args.catalog or (block.catalog if block and block.catalog else SHIPPED_CATALOG)
    loaded = load_catalog(catalog)
    return tuple(cost_facts(name, loaded.instance(name, catalog), 1, catalog) for name in names)


def _print(summary: dict[str, Any], out_dir: Path) -> None:
    console = Console()
    found, capacity = summary["bracket"], summary["capacity"]
    console.print(f"[bold]{summary['scenario']}[/]: {summary['result']} ({found['ended_by']})")
    if capacity["per_replica_rps"] is not None:
        miss = "none" if found["lowest_miss"] is None else f"{found['lowest_miss']:g} {summary['unit']}"
        console.print(f"  SLO-safe capacity per replica: {capacity['per_replica_rps']:,.4g} req/s "
                      f"(highest pass {found['highest_pass']:g} {summary['unit']}, lowest miss {miss})")
    if capacity["tokens_per_s"]:
        tokens = capacity["tokens_per_s"]
        console.print(f"  tokens/s at the SLO: input {tokens['input']:,.4g}, output {tokens['output']:,.4g}")
    if summary["knee"]:
        console.print(f"  knee: {summary['knee']['throughput']:,.4g} req/s")
    if summary["replicas"]:
        r = summary["replicas"]
        console.print(f"  replicas for {r['peak_rate']:g} req/s with {r['headroom']:.0%} headroom: {r['replicas']} "
                      f"({r['utilisation_at_peak']:.0%} busy at peak)")
    for row in summary["cost"]:
        per_token = (f", ${row['cost_per_1m_output_tokens_at_slo']:.4g} per 1M output tokens"
                     if "cost_per_1m_output_tokens_at_slo" in row else "")
        console.print(f"  {row['instance']}: ${row['cost_per_1k_at_slo']:.4g} per 1k requests at the SLO{per_token}")
    console.print(f"  report: {out_dir / 'capacity.html'}")
