"""`python -m benchmarks`: run the peer suite and write benchmarks/RESULTS.md with its plots.

    python -m benchmarks                 # full mode (about 30 minutes here)
    python -m benchmarks --quick         # about 10 minutes, plus first-use peer installs
    python -m benchmarks --only B2,B6    # a subset; RESULTS.md then holds only those
    python -m benchmarks micro [--compare]   # the hot-path micro-benchmarks (benchmarks/micro_cli.py)

A benchmark that fails is written up with its error and the others still run; the exit
status is then 1. Peers are installed on first use into their own venvs under the cache
directory (see benchmarks/peers/venvs.py). Never run this beside other heavy work: every
figure is a ratio against a peer measured in the same run, but both sides share 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path

import platformdirs

from benchmarks.environment import machine, versions
from benchmarks.results_md import render
from benchmarks.suite import BENCHMARKS, BenchResult, Context, Mode

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="shorter runs, fewer rounds (≤ 10 minutes)")
    speed.add_argument("--tiny", action="store_true", help="the CI smoke test of the plumbing; figures mean nothing")
    parser.add_argument("--only", default="", help="comma-separated keys, e.g. B1,B6 (default: all)")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="the Markdown file to write")
    parser.add_argument("--work", type=Path, help="keep logs and raw reports here (default: a temporary dir)")
    parser.add_argument("--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("slogate")))
    return parser.parse_args(argv)


def selected(only: str) -> list[str]:
    keys = [k.strip().upper() for k in only.split(",") if k.strip()] or BENCHMARKS.names()
    unknown = [k for k in keys if k not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS.names())}")
    return keys


def run_one(key: str, ctx: Context) -> BenchResult:
    benchmark = BENCHMARKS.get(key)()
    ctx.log(f"== {key}: {benchmark.title}")
    started = time.perf_counter()
    try:
        result = benchmark.run(ctx)
    except Exception as exc:  # noqa: BLE001 - one broken peer must not lose the other benchmarks' figures
        traceback.print_exc()
        result = BenchResult(key, benchmark.title, "", error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started
    result.micro = benchmark.micro
    ctx.log(f"== {key} done in {result.seconds:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = Mode("quick" if args.quick else "tiny" if args.tiny else "full")
    keys = selected(args.only)
    work = args.work or Path(tempfile.mkdtemp(prefix="slogate-benchmarks-"))
    figures_dir = args.results.parent / "figures"
    for directory in (work, figures_dir):
        directory.mkdir(parents=True, exist_ok=True)
    ctx = Context(mode, work, figures_dir, args.cache_dir)
    at_start = machine()
    results = [run_one(key, ctx) for key in keys]
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    args.results.write_text(render(results, mode.name, at_start, versions(), args.results, command.strip()))
    ctx.log(f"wrote {args.results}; logs and raw reports in {work}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
