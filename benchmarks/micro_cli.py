"""`python -m benchmarks micro`: the hot-path micro-benchmarks, alone or against a base commit.

    python -m benchmarks micro                      # run them; results autosaved under .benchmarks/
    python -m benchmarks micro --compare            # working tree against HEAD~1, interleaved
    python -m benchmarks micro --compare --base main --runs 5 -k send_path
    python -m benchmarks micro --compare-files BASE.json CURRENT.json

`--compare` checks the base commit out into a temporary git worktree, puts this tree's
benchmarks/micro into it (so both sides run the same benchmarks; one whose code the base
lacks is listed as new), then runs the suite on each side in turn, alternating which goes
first, `--runs` times. Interleaving spreads the box's slow minutes over both sides. Exit 1
when any benchmark got slower (benchmarks/micro_compare.py says when that is), 2 on bad
arguments or results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.micro_compare import THRESHOLD, compare, only_in, pooled, read_results, render
from benchmarks.worktree import base_worktree

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
MICRO = Path("benchmarks") / "micro"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks micro", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--compare", action="store_true", help="run on the working tree and on --base, interleaved")
    mode.add_argument("--compare-files", nargs=2, type=Path, metavar=("BASE", "CURRENT"),
                      help="compare two saved pytest-benchmark JSON files; run nothing")
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare against (default HEAD~1)")
    parser.add_argument("--runs", type=int, default=3, help="suite runs per side with --compare (default 3)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, help="median change that counts (default 0.10)")
    parser.add_argument("-k", dest="select", help="only the benchmarks pytest's -k expression selects")
    parser.add_argument("--work", type=Path, help="keep the JSON results here (the worktree is always removed)")
    args = parser.parse_args(argv)
    if args.runs < 1 or not 0 < args.threshold < 10:
        parser.error("--runs must be at least 1 and --threshold a fraction such as 0.10")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.compare_files:
        return _judge([args.compare_files[0]], [args.compare_files[1]], args.threshold, "base", "current")
    if args.compare:
        return _compare_with_base(args)
    command = _pytest_command(args.select, ["--benchmark-autosave", "--benchmark-save-data"])
    return subprocess.run(command, cwd=TREE).returncode


def _pytest_command(select: str | None, extra: list[str]) -> list[str]:
    command = [sys.executable, "-m", "pytest", str(MICRO), "--benchmark-only", "-q", "-p", "no:cacheprovider",
               "--continue-on-collection-errors", *extra]
    return command + (["-k", select] if select else [])


def _compare_with_base(args: argparse.Namespace) -> int:
    work = args.work or Path(tempfile.mkdtemp(prefix="slogate-micro-"))
    try:
        with base_worktree(args.base, work / "base") as base_tree:
            _with_current_benchmarks(base_tree)
            sides = {"current": (TREE, []), "base": (base_tree, [])}
            for run in range(args.runs):
                order = ("current", "base") if run % 2 == 0 else ("base", "current")
                for side in order:
                    tree, files = sides[side]
                    files.append(_run_side(side, tree, work / f"{side}-{run}.json", args.select))
            return _judge(sides["base"][1], sides["current"][1], args.threshold, args.base, "working tree")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _with_current_benchmarks(tree: Path) -> None:
    shutil.rmtree(tree / MICRO, ignore_errors=True)
    shutil.copytree(TREE / MICRO, tree / MICRO, ignore=shutil.ignore_patterns("__pycache__"))


def _run_side(side: str, tree: Path, out: Path, select: str | None) -> Path:
    print(f"== {side}: {tree}", flush=True)
    subprocess.run(_pytest_command(select, [f"--benchmark-json={out}", "--benchmark-save-data"]), cwd=tree)
    if not out.exists():
        raise SystemExit(f"the {side} run wrote no results ({out})")
    measured = json.loads(out.read_text())["machine_info"].get("slogate_source_tree")
    if measured != str(tree.resolve()):
        raise SystemExit(f"the {side} run measured the code in {measured}, not {tree}: is slogate installed non-editable?")
    return out


def _judge(base_files: list[Path], current_files: list[Path], threshold: float, base_label: str,
           current_label: str) -> int:
    try:
        base = pooled(read_results(path) for path in base_files)
        current = pooled(read_results(path) for path in current_files)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    changes = compare(base, current, threshold)
    print(render(changes, base_label, current_label, threshold))
    for name in only_in(current, base):
        print(f"new (not in {base_label}): {name}")
    for name in only_in(base, current):
        print(f"gone (only in {base_label}): {name}")
    slower = [change.name for change in changes if change.verdict == "slower"]
    if slower:
        print(f"SLOWER: {len(slower)} benchmark{'s' if len(slower) > 1 else ''}: {', '.join(slower)}")
    return 1 if slower else 0
