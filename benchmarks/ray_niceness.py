"""Whether Ray's worker niceness is what slows Serve on a shared node: the reference server on
Ray Serve (1 replica, the demo fraud model) with Ray's default worker niceness (15, below every
ordinary process, the load generator's included) against 0, in alternating rounds, each a fresh
local Ray; per round Poisson steps at fixed rates, judged on p99 < 25 ms as B13 judges.

    python -m benchmarks.ray_niceness [--rounds 3] [--rates 50,100,200] [--seconds 6]

A script of its own, outside the suite: B13 measures the engine as it ships (Ray's default
niceness); this tried the one setting that might have explained B13's tail, and did not.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import platformdirs

from benchmarks.b3_server_throughput import ERROR_SLO, SLO_MS
from benchmarks.processes import reference_server, serving
from benchmarks.ray_serve import RAY_READY_TIMEOUT_S
from benchmarks.slogate_cli import fixed_rate_scenario, ms, run_slogate
from reference_server.demo.repository import ensure_demo_repo

NICENESS = ("15", "0")  # Ray's default for workers; an ordinary process's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="slogate-ray-niceness-"))
    repo = ensure_demo_repo(Path(platformdirs.user_cache_dir("slogate")))
    p50: dict[tuple[str, float], list[float]] = {}
    print("| round | niceness | req/s | p50 ms | p99 ms | verdict |\n|---|---|---|---|---|---|")
    for index in range(1, args.rounds + 1):
        for nice in NICENESS if index % 2 else NICENESS[::-1]:
            command = reference_server(repo, "fraud", name=f"ray-nice{nice}-{index}", env={"RAY_worker_niceness": nice},
                                       ready_timeout_s=RAY_READY_TIMEOUT_S, stop_grace_s=60.0)
            command.argv += ["--engine", "ray", "--replicas", "1"]
            with serving(command, work) as ray:
                for rate in rates:
                    name = f"nice{nice}-{rate:.0f}-{index}"
                    scenario = fixed_rate_scenario(name, index, "model: fraud, version: '1', protocol: oip-v2",
                                                   args.seconds + 1, rate, [f"p99(latency) < {SLO_MS:g}ms", ERROR_SLO])
                    summary = run_slogate(name, scenario, ray.base_url, work).summary
                    latency = summary["latency_ms"]
                    if latency["p50"] is not None:
                        p50.setdefault((nice, rate), []).append(latency["p50"])
                    print(f"| {index} | {nice} | {rate:g} | {ms(latency['p50'])} | {ms(latency['p99'])} | "
                          f"{summary['verdict']} |", flush=True)
    print("\nmedian p50 over rounds, niceness 0 / 15:")
    for rate in rates:
        zero, default = p50.get(("0", rate), []), p50.get(("15", rate), [])
        if zero and default:
            print(f"  {rate:g} req/s: {statistics.median(zero):.2f} / {statistics.median(default):.2f} ms")
    print(f"run directories under {work}")


if __name__ == "__main__":
    main()
