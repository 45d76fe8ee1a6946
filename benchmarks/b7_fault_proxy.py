"""B7: the fault proxy's own cost. nginx straight vs through harness.netfault, with no toxic.

A network-fault experiment keeps the proxy between the generator and the server for the
whole run, so with no toxic active it must add next to nothing. The target is B1's nginx and
the load B1's generator child (`python -m benchmarks.b1_generator`), each rate run straight
and through the builtin engine's proxy, the two interleaved (their order alternating by
round) so that the machine's drift falls on both.
"""

from __future__ import annotations

import asyncio
import statistics

import psutil

from benchmarks.b1_generator import completed, slogate_step, start_nginx
from benchmarks.suite import BenchResult, Context, Table, at_least, at_most, ratio, register
from harness.netfault.client import ToxiproxyClient
from harness.netfault.engine import Engine, start_engine

ARMS = ("direct", "proxied")
ADDED_P50_GOAL_MS = 0.5
# Below saturation the median request waits on nothing (≤ 0.3 ms here); a queue anywhere lifts it past 1 ms.
QUEUE_FREE_P50_MS = 1.0
RATE_RATIO_GOAL = 0.5


@register("B7")
class FaultProxyCost:
    title = "Fault proxy overhead: nginx straight vs through harness.netfault, no toxic"
    micro = ()  # the proxy's relay is measured against a direct connection in B7 itself

    def run(self, ctx: Context) -> BenchResult:
        rates = ctx.mode.pick([1000, 5000, 10000, 15000], [1000, 6000, 12000], tiny=[200])
        rounds = ctx.mode.pick(3, 2, tiny=1)
        seconds = ctx.mode.pick(2.5, 2.0, tiny=1.0)
        workdir = ctx.work / "b7"
        workdir.mkdir(parents=True, exist_ok=True)
        nginx, url = start_nginx(workdir)
        engine = None
        try:
            engine = asyncio.run(start_engine("builtin", workdir / "netfault.log"))
            urls = {"direct": url, "proxied": asyncio.run(_proxy_to(engine, url))}
            proxy_process = psutil.Process(engine.process.pid)
            steps = [step for i in range(rounds) for step in self._round(ctx, i + 1, urls, rates, seconds, proxy_process)]
        finally:
            if engine is not None:
                asyncio.run(engine.stop())
            nginx.terminate()
            nginx.wait(5)
        return self._result(steps, rounds, rates[0], seconds)

    def _round(self, ctx: Context, index: int, urls: dict[str, str], rates: list[int], seconds: float,
               proxy_process: psutil.Process) -> list[dict]:
        """Up the rates, both arms at each. An arm stops climbing at a rate it fails twice:
        one stall of the machine must not end its climb."""
        order = ARMS if index % 2 else ARMS[::-1]
        climbing = set(ARMS)
        steps = []
        for rate in rates:
            for arm in (a for a in order if a in climbing):
                for _ in range(2):
                    steps.append(self._step(ctx, index, arm, urls[arm], rate, seconds, proxy_process))
                    if passed(steps[-1]):
                        break
                else:
                    climbing.discard(arm)
        return steps

    def _step(self, ctx: Context, index: int, arm: str, url: str, rate: int, seconds: float,
              proxy_process: psutil.Process) -> dict:
        cpu_before = _cpu_s(proxy_process)
        step = slogate_step(url, float(rate), seconds)
        proxy_cpu_us = (_cpu_s(proxy_process) - cpu_before) / (rate * seconds) * 1e6
        step.update(round=index, arm=arm, proxy_cpu_us=proxy_cpu_us if arm == "proxied" else None)
        ctx.log(f"  round {index} {arm:>7} {rate:>6}/s -> {step['achieved_rate']:7.0f}/s, latency p50 "
                f"{step['latency_p50_ms']:.3f} p99 {step['latency_p99_ms']:.3f} ms, errors {step['errors']}")
        return step

    def _result(self, steps: list[dict], rounds: int, probe: int, seconds: float) -> BenchResult:
        per_round = [_round_figures([s for s in steps if s["round"] == i], probe) for i in range(1, rounds + 1)]
        median = {key: _median([r[key] for r in per_round]) for key in per_round[0]}
        every = Table(f"Every step of every round, {seconds:g} s each, in the order run",
                      ["round", "target req/s", "arm", "achieved req/s", "latency p50 ms", "latency p99 ms",
                       "errors", "generator lag p99 ms", "proxy CPU µs/req", "passed"],
                      [[s["round"], s["target_rate"], s["arm"], s["achieved_rate"], s["latency_p50_ms"],
                        s["latency_p99_ms"], s["errors"], s["lag_p99_ms"], s["proxy_cpu_us"],
                        "yes" if passed(s) else "no"] for s in steps])
        rounds_table = Table(f"Per round: latency at {probe:,} req/s, and the highest rate passed from the bottom",
                             ["round", "direct p50 ms", "proxied p50 ms", "added p50 ms", "direct p99 ms",
                              "proxied p99 ms", "added p99 ms", "direct max req/s", "proxied max req/s",
                              "max rate, proxied / direct"],
                             [[i + 1, r["direct_p50"], r["proxied_p50"], r["added_p50"], r["direct_p99"],
                               r["proxied_p99"], r["added_p99"], r["direct_max"], r["proxied_max"], r["rate_ratio"]]
                              for i, r in enumerate(per_round)])
        medians = Table(f"Median over {rounds} rounds",
                        ["figure", "direct", "proxied", "proxied − direct", "proxied / direct (median of rounds)"],
                        [[f"latency p50 ms at {probe:,} req/s", median["direct_p50"], median["proxied_p50"],
                          median["added_p50"], median["p50_ratio"]],
                         [f"latency p99 ms at {probe:,} req/s", median["direct_p99"], median["proxied_p99"],
                          median["added_p99"], median["p99_ratio"]],
                         ["highest rate passed, req/s", median["direct_max"], median["proxied_max"], None,
                          median["rate_ratio"]],
                         [f"proxy CPU µs per request at {probe:,} req/s", None, median["proxy_cpu_us"], None, None]])
        return BenchResult(
            self.key, self.title, METHOD, tables=[medians, rounds_table, every],
            goals=[at_most(f"latency p50 added by the proxy at {probe:,} req/s, no toxic (median of rounds)",
                           median["added_p50"], ADDED_P50_GOAL_MS, " ms"),
                   at_least("highest rate passed, proxied / direct (median of rounds)", median["rate_ratio"],
                            RATE_RATIO_GOAL)],
            notes=[("Generator, proxy and nginx share the machine's cores: the proxied ceiling is lower also "
                    "because the proxy's CPU is taken from the generator, as it would be in a run here."),
                   "Latency is the client's, sent to done; the generator's schedule lag is shown beside it.",
                   ("The added latency varies between rounds more than either arm's own latency does: each "
                    "request makes two more wake-ups of another process, whose cost here varies run to run."),
                   ("The proxy's CPU per request includes accepting and dialling upstream for the generator's "
                    "256 warm connections, which weighs most at the lowest rate.")],
        )


async def _proxy_to(engine: Engine, url: str) -> str:
    async with ToxiproxyClient(engine.api_url) as client:
        return "http://" + await client.create_proxy("b7", "127.0.0.1:0", url.removeprefix("http://"))


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def passed(step: dict) -> bool:
    """Every request sent at the asked rate ±2%, none failed (B1's `completed`), and no queue."""
    return completed(step) and step["latency_p50_ms"] < QUEUE_FREE_P50_MS


def _round_figures(steps: list[dict], probe: int) -> dict[str, float | None]:
    at_probe = {s["arm"]: s for s in steps if s["target_rate"] == probe}  # a second try, where run, wins
    direct, proxied = at_probe["direct"], at_probe["proxied"]
    highest = {arm: max((s["target_rate"] for s in steps if s["arm"] == arm and passed(s)), default=None)
               for arm in ARMS}
    return {"direct_p50": direct["latency_p50_ms"], "proxied_p50": proxied["latency_p50_ms"],
            "added_p50": proxied["latency_p50_ms"] - direct["latency_p50_ms"],
            "p50_ratio": ratio(proxied["latency_p50_ms"], direct["latency_p50_ms"]),
            "direct_p99": direct["latency_p99_ms"], "proxied_p99": proxied["latency_p99_ms"],
            "added_p99": proxied["latency_p99_ms"] - direct["latency_p99_ms"],
            "p99_ratio": ratio(proxied["latency_p99_ms"], direct["latency_p99_ms"]),
            "direct_max": highest["direct"], "proxied_max": highest["proxied"],
            "rate_ratio": ratio(highest["proxied"], highest["direct"]), "proxy_cpu_us": proxied["proxy_cpu_us"]}


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


METHOD = """
The target is B1's nginx (one worker, a fixed JSON body) on loopback. The builtin engine of
`harness.netfault` runs as its own process (`python -m harness.netfault`, as an experiment
starts it) with one proxy in front of nginx and no toxic. Each round climbs a ladder of
constant rates; at each rate B1's generator child (a fresh process, http-json client, its
256 warm keep-alive connections) runs once straight at nginx and once through the proxy,
the order alternating by round. A step passes when every request went out at the asked
rate ±2%, none failed and the latency p50 stayed under 1 ms (no queue anywhere); an arm
stops climbing at the first rate that fails twice in a row, so its highest rate passed is
held from the bottom. The added latency is
proxied minus direct at the lowest rate, far below saturation, where it is the proxy's own
cost: two more socket hops, a read and a write each way. The proxy's CPU time is read from
its process over each step.
"""
