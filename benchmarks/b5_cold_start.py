"""B5: cold start. Time from spawn to the first ready answer, against the floor and a peer.

`slogate serve` (the reference server with the demo fraud model) is held against
`python -c "import torch"`, the least any torch server can take; vLLM in-process (the
reference server with tiny-llm) against vLLM's own OpenAI server on the same model.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.b4_llm import MODEL, server_commands
from benchmarks.processes import ROOT, ServerCommand, free_port, serving
from benchmarks.suite import BenchResult, Context, Table, at_most, ratio, register
from reference_server.demo.repository import ensure_demo_repo

SLOGATE = Path(sys.executable).parent / "slogate"


def import_torch_s() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], cwd=ROOT, check=True)
    return time.perf_counter() - started


def slogate_serve(repo: Path) -> ServerCommand:
    port = free_port()
    return ServerCommand("slogate-serve", [str(SLOGATE), "serve", "--model-repo", str(repo), "--models", "fraud",
                                           "--port", str(port), "--log-level", "warning"], port, "/v2/health/ready")


def ready_s(command: ServerCommand, work: Path) -> float:
    with serving(command, work) as started:
        return started.ready_s


@register("B5")
class ColdStart:
    title = "Cold start: slogate serve vs import torch; vLLM in-process vs vLLM's own server"
    micro = ()  # a start-up figure: process spawn and imports, nothing a micro-benchmark isolates

    def run(self, ctx: Context) -> BenchResult:
        repeats = ctx.mode.pick(5, 3, tiny=1)
        llm_repeats = ctx.mode.pick(2, 1, tiny=0)
        work = ctx.work / "b5"
        work.mkdir(parents=True, exist_ok=True)
        repo = ensure_demo_repo(ctx.cache)
        torch_s, serve_s = [], []
        for _ in range(repeats):  # interleaved, so drift on a shared box hits both
            torch_s.append(import_torch_s())
            serve_s.append(ready_s(slogate_serve(repo), work))
            ctx.log(f"  import torch {torch_s[-1]:.2f} s, slogate serve ready {serve_s[-1]:.2f} s")
        llm: dict[str, list[float]] = {"reference": [], "vllm": []}
        for i in range(llm_repeats):
            commands = server_commands(repo / MODEL / "1", repo)
            for command in commands if i % 2 == 0 else commands[::-1]:
                llm[command.name].append(ready_s(command, work))
                ctx.log(f"  {command.name} ready {llm[command.name][-1]:.1f} s")
        return self._result(torch_s, serve_s, llm)

    def _result(self, torch_s: list[float], serve_s: list[float], llm: dict[str, list[float]]) -> BenchResult:
        floor, ours = statistics.median(torch_s), statistics.median(serve_s)
        rows = [["python -c 'import torch' (the floor)", floor, min(torch_s), max(torch_s), len(torch_s)],
                ["slogate serve --models fraud (ready)", ours, min(serve_s), max(serve_s), len(serve_s)]]
        goals = [at_most("slogate serve ready / import torch", ratio(ours, floor), 1.5)]
        notes = [READY]
        if llm["reference"]:
            in_process, own = statistics.median(llm["reference"]), statistics.median(llm["vllm"])
            rows += [["reference server, tiny-llm on vLLM in-process", in_process, min(llm["reference"]),
                      max(llm["reference"]), len(llm["reference"])],
                     ["vLLM's own OpenAI server, tiny-llm", own, min(llm["vllm"]), max(llm["vllm"]), len(llm["vllm"])]]
            notes.append(f"vLLM in-process / vLLM's own server: {in_process / own:.2f}× (no goal was set; the "
                         "engine start dominates both).")
        return BenchResult(self.key, self.title, METHOD,
                           tables=[Table("Seconds from spawn to ready", ["process", "median s", "min s", "max s", "n"],
                                         rows)],
                           goals=goals, notes=notes)


READY = ("Ready means the first 200 from /v2/health/ready (fraud, both versions loaded and warmed) or "
         "/v1/models (LLM engine up and warmed), polled every 20 ms from spawn.")

METHOD = """
Each start is a fresh process on a warm page cache (the first start of the suite already
read every file), with the demo repository in place, so the figure is the import, load and
warm-up work, not disk. `slogate serve` and `import torch` alternate; the two LLM servers
start one at a time, alternating which goes first.
"""
