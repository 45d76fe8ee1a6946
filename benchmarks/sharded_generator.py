"""B11: the sharded generator. The highest constant rate `slogate run` holds with schedule lag
p99 < 1 ms (every shard's too) with one sending process, with two (`--procs 2`), and with a
locust master and one or two locust workers (`--engine locust --workers N`).

Each round is a real `slogate run` (benchmarks/slogate_cli.py: scenario → records → summary.json) against
nginx returning a fixed JSON body on loopback (B1's trivial target), so the figures are what
a user gets, sharding, merging and the per-shard lag rule included. Every round is shown.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.b1_generator import held_from_the_bottom, start_nginx, step_held
from benchmarks.slogate_cli import run_slogate
from benchmarks.suite import BenchResult, Context, Table, at_least, ratio, register

LAG_LIMIT_MS = 1.0
ROWS = 64  # distinct JSON bodies cycled through the run
SCENARIO = """name: b11-sharded
seed: 1
target: {{url: "http://127.0.0.1:1", protocol: http-json}}
workload:
  phases:
    - {{duration: {seconds}s, arrival: {{process: constant, rate: {rate}}}}}
  payload: {{generator: file, path: {rows}}}
  max_in_flight: 4000
  engine: {engine}
  procs: {procs}
analysis: {{max_lag_p99: {lag_limit}ms}}
slos: []
"""
# (label, workload.engine, workload.procs): who sends, and in how many processes
ARMS = (("slogate, 1 process", "slogate", 1), ("slogate --procs 2", "slogate", 2),
        ("locust, 1 worker", "locust", 1), ("locust, 2 workers", "locust", 2))


def round_figures(summary: dict) -> dict:
    """One round's figures from its summary.json (the run's own load section: no statistics here)."""
    load = summary["load"]
    shards = load.get("shards", [])
    return {
        "achieved_rate": load["achieved_rate"],
        "lag_p99_ms": load["schedule_lag_ms"]["p99"],
        "shard_lag_p99_ms": [shard["schedule_lag_ms"]["p99"] for shard in shards],
        "errors": summary["errors"]["total"],
        "requests": load["requests"],
        "held": load["valid"] and not summary["errors"]["total"],  # lag (every shard's) and rate ±2%
    }


def run_round(rows: Path, url: str, rate: float, seconds: float, engine: str, procs: int, work: Path,
              name: str) -> dict:
    scenario = SCENARIO.format(seconds=seconds, rate=rate, rows=rows, engine=engine, procs=procs,
                               lag_limit=LAG_LIMIT_MS)
    return {"target_rate": rate, **round_figures(run_slogate(name, scenario, url, work, seconds + 300).summary)}


def _held(round_: dict) -> bool:
    return round_["held"]


@register("B11")
class ShardedGenerator:
    title = "Sharded generator: rate held with lag p99 < 1 ms, 1 or 2 sending processes, 1 or 2 locust workers"
    micro = ()

    def run(self, ctx: Context) -> BenchResult:
        rates = ctx.mode.pick([2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 24000],
                              [1000, 2000, 4000, 6000], tiny=[100])
        rounds = ctx.mode.pick(3, 3, tiny=1)
        seconds = ctx.mode.pick(5.0, 3.0, tiny=1.0)
        workdir = ctx.work / "b11"
        workdir.mkdir(parents=True, exist_ok=True)
        rows = write_rows(workdir)
        nginx, url = start_nginx(workdir)
        ladders: dict[str, dict[float, list[dict]]] = {}
        try:
            for label, engine, procs in ARMS:
                ladders[label] = {}
                for rate in rates:
                    found = [self._logged(ctx, label, run_round(rows, url, float(rate), seconds, engine, procs,
                                                                 workdir / "runs", f"{engine}{procs}-{rate}-{i}"))
                             for i in range(rounds)]
                    ladders[label][float(rate)] = found
                    if not step_held(found, _held):
                        break  # the rates above would not count either
        finally:
            nginx.terminate()
            nginx.wait(5)
        return self._result(ladders, seconds)

    def _logged(self, ctx: Context, label: str, step: dict) -> dict:
        shards = ", ".join(f"{lag:.3f}" for lag in step["shard_lag_p99_ms"])
        ctx.log(f"  {label:<20} {step['target_rate']:>7.0f}/s -> {step['achieved_rate']:7.0f}/s, "
                f"lag p99 {step['lag_p99_ms']:.3f} ms{f' (shards {shards})' if shards else ''}, "
                f"{'held' if step['held'] else 'not held'}")
        return step

    def _result(self, ladders: dict[str, dict[float, list[dict]]], seconds: float) -> BenchResult:
        rows = [[label, rate, i + 1, s["achieved_rate"], s["lag_p99_ms"],
                 " / ".join(f"{lag:.3f}" for lag in s["shard_lag_p99_ms"]) or "-", s["errors"],
                 "yes" if s["held"] else "no", "yes" if step_held(found, _held) else "no"]
                for label, ladder in ladders.items() for rate, found in sorted(ladder.items())
                for i, s in enumerate(found)]
        held = {label: held_from_the_bottom(ladder, _held) for label, ladder in ladders.items()}
        one, two, locust_one, locust_two = (label for label, _, _ in ARMS)
        return BenchResult(
            self.key, self.title, METHOD,
            tables=[Table(f"Every round ({seconds:g} s of load each)",
                          ["sender", "target req/s", "round", "achieved req/s", "lag p99 ms", "per-shard lag p99 ms",
                           "errors", f"round held (lag p99 < {LAG_LIMIT_MS:g} ms, rate ±2%)", "step held"], rows),
                    Table("Highest rate held at that step and every lower one",
                          ["sender", "req/s"], [[label, rate] for label, rate in held.items()])],
            goals=[at_least("rate held, --procs 2 / one process", ratio(held[two], held[one]), 1.5),
                   at_least("rate held, 2 locust workers / 1", ratio(held[locust_two], held[locust_one]), 1.5)],
            notes=[("Two sending processes and nginx share this machine's cores: on a 2-core machine the target's "
                    "worker competes with the second shard, so the ratio is a floor of what more cores give.")],
        )


def write_rows(workdir: Path) -> Path:
    """The distinct request bodies every round sends (a file payload: nginx publishes no schema)."""
    rows = workdir / "rows.jsonl"
    rows.write_text("".join(json.dumps({"x": i}) + "\n" for i in range(ROWS)))
    return rows


METHOD = """
The target is nginx (one worker) returning a fixed JSON body on loopback. Each round is a
whole `slogate run --target-url URL` (with `workload.procs`/`engine` as the arm says) of a constant-rate phase (http-json client,
64 distinct bodies), read back from its summary.json: a round is *held* when the run's load
section is valid (schedule lag p99 < 1 ms pooled and in every shard, the rate within 2%)
and nothing failed. Each rate is run three times; a step is held when most of its rounds
are, and the headline is the highest rate at which that step and every lower one held.
A sender's ladder stops at its first step not held. The locust rows are the same shard
sender run under locust's workers (each worker's user spawns it and ships its records back to
the master), so they differ from `--procs` only by locust's start-up and messaging.
"""
