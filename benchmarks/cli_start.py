"""What a `slogate` command costs before and after its real work: this tree against a base
commit, in alternating rounds, each command a fresh process.

    python -m benchmarks.cli_start --base REF [--rounds 5]

Two commands, timed wall-clock from exec to exit:
- `slogate validate` of the demo scenario: imports and reading, nothing started;
- `slogate run` of the demo scenario cut to 3 s of load (its first 2 s are warmup) against the
  embedded reference server: start-up, load, analysis, report and history together, so a
  saving is the whole command's, not a piece's.

The base is checked out into a temporary worktree and imported from there (PYTHONPATH), with
this tree's virtual environment. The headline is base / this tree per round, as a median with
a bootstrap interval over rounds. A script of its own, outside the suite: it compares two
commits rather than slogate with a peer.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.b4_llm import paired_ratio
from benchmarks.processes import ROOT
from benchmarks.worktree import base_worktree

SCENARIO = "scenarios/smoke.yaml"
COMMANDS = {
    "validate": ["validate", SCENARIO],
    "run 3 s": ["run", SCENARIO, "--set", "workload.phases.0.duration=3s", "--inconclusive-ok"],
}


def timed(tree: Path, args: list[str], out: Path) -> float:
    command = [sys.executable, "-m", "harness", *args] + (["--out", str(out)] if args[0] == "run" else [])
    started = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                          text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{tree}: slogate {' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (e.g. HEAD~3)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slogate-cli-start-"))
    seconds: dict[tuple[str, str], list[float]] = {}
    with base_worktree(args.base, work / "base") as base:
        trees = {"base": base, "this": ROOT}
        print("| round | tree | " + " | ".join(f"{name} s" for name in COMMANDS) + " |")
        print("|---|---|" + "---|" * len(COMMANDS))
        for index in range(1, args.rounds + 1):
            for label in ("base", "this") if index % 2 else ("this", "base"):
                row = [timed(trees[label], argv, work / "reports") for argv in COMMANDS.values()]
                for name, value in zip(COMMANDS, row, strict=True):
                    seconds.setdefault((label, name), []).append(value)
                print(f"| {index} | {label} | " + " | ".join(f"{value:.2f}" for value in row) + " |", flush=True)
    print(f"\nbase ({args.base}) / this tree, median of per-round ratios [90% bootstrap interval]:")
    for name in COMMANDS:
        found = paired_ratio(seconds[("base", name)], seconds[("this", name)])
        interval = "" if found.interval is None else f" [{found.interval[0]:.2f}, {found.interval[1]:.2f}]"
        print(f"  {name}: {found.median:.2f}×{interval}")


if __name__ == "__main__":
    main()
