"""The reliability figures: overload and soak, the shipped scenarios held for longer.

    python -m benchmarks.reliability [--rounds 3] [--overload-s 60] [--soak-s 600] [--out DIR]

`scenarios/overload.yaml` holds 10x herd v1's capacity for `--overload-s` (CI: 10 s) in each
of `--rounds` rounds; `scenarios/soak.yaml` holds ~70% of the fraud model's capacity for
`--soak-s` (CI: 60 s), once. Every round is printed, never only the best; each figure is the
SLO estimate with its interval, as the run's summary.json judged it. The Markdown it prints
is what RELIABILITY.md quotes, with the date and the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from benchmarks.environment import machine
from benchmarks.processes import ROOT
from benchmarks.slogate_cli import SlogateRun, run_scenario_file

OVERLOAD = ROOT / "scenarios" / "overload.yaml"
SOAK = ROOT / "scenarios" / "soak.yaml"
OVERLOAD_FIGURES = (("p99(rejection_time) < 20ms in during(overload)", "429 p99 ms (goal < 10)", 1.0),
                    ("p99(accepted_latency) < 200ms in during(overload)", "accepted p99 ms", 1.0),
                    ("rss_growth < 20%", "RSS growth %", 100.0),
                    ("recovery_time < 5s", "recovery s", 1e-3))
SOAK_FIGURES = (("rss_slope < 5", "RSS slope MiB/min", 1.0), ("fd_growth <= 4", "fd growth", 1.0),
                ("thread_growth <= 2", "thread growth", 1.0), ("latency_drift < 10", "latency drift ms/min", 1.0),
                ("p99(latency) < 100ms", "p99 ms", 1.0))


def figure(run: SlogateRun, expr: str, scale: float) -> str:
    slo = next((s for s in run.summary["slos"] if s["expr"] == expr), None)
    if slo is None or slo["estimate"] is None or math.isnan(slo["estimate"]):
        return "–"
    value = f"{slo['estimate'] * scale:.3g}"
    ci = slo.get("ci")
    if ci and ci[0] != ci[1] and all(c is not None and math.isfinite(c) for c in ci):
        value += f" [{ci[0] * scale:.3g}, {ci[1] * scale:.3g}]"
    return f"{value} ({slo['verdict']})"


def row(label: str, run: SlogateRun, figures: tuple) -> str:
    load = run.summary["load"]
    lag = load["schedule_lag_ms"]["p99"]
    cells = [label, run.summary["verdict"], *(figure(run, expr, scale) for expr, _, scale in figures),
             "–" if lag is None else f"{lag:.3g}", "yes" if load["valid"] else "no"]
    return "| " + " | ".join(cells) + " |"


def table(figures: tuple, rows: list[str]) -> str:
    head = ["round", "verdict", *(name for _, name, _ in figures), "lag p99 ms", "load valid"]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overload-s", type=int, default=60)
    parser.add_argument("--soak-s", type=int, default=600)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="slogate-reliability-"))
    overload = [run_scenario_file(f"overload-{i}", OVERLOAD, work, "--set",
                                  f"workload.phases.1.duration={args.overload_s}s", timeout_s=args.overload_s + 300)
                for i in range(1, args.rounds + 1)]
    soak = run_scenario_file("soak", SOAK, work, "--set", f"workload.phases.0.duration={args.soak_s + 10}s",
                             timeout_s=args.soak_s + 300)
    print("; ".join(f"{key}: {value}" for key, value in machine().items()) + "\n")
    print(f"Overload: 10x capacity for {args.overload_s} s, {args.rounds} rounds\n")
    print(table(OVERLOAD_FIGURES, [row(str(i), run, OVERLOAD_FIGURES) for i, run in enumerate(overload, 1)]))
    print(f"\nSoak: ~70% of capacity for {args.soak_s} s\n")
    print(table(SOAK_FIGURES, [row("1", soak, SOAK_FIGURES)]))
    (work / "reliability.json").write_text(json.dumps(
        {"overload": [run.summary["slos"] for run in overload], "soak": soak.summary["slos"]}, indent=1))
    print(f"\nrun directories under {work}")


if __name__ == "__main__":
    main()
