"""Two arms at fixed rates: slogate loads a baseline and a candidate endpoint at the same
Poisson rates, the arms interleaved and their order alternating by round so the machine's drift
falls on both; the headline is the per-round candidate / baseline ratio of p50 latency and of
the server's CPU per request, with a bootstrap interval over rounds (B10: gRPC against HTTP,
B12: HTTPS against HTTP)."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks.b4_llm import PairedRatio, paired_ratio
from benchmarks.slogate_cli import fixed_rate_scenario, ms, run_slogate
from benchmarks.suite import BenchResult, Context, Table, at_most_surely

SLO_MS = 25.0



@dataclass
class Arm:
    """One side of a two-arm comparison: where slogate sends, how, and whose CPU counts."""

    url: str
    protocol: str
    process: psutil.Process
    target_extra: str = ""  # more of the scenario's target mapping, e.g. its tls block


class TwoArms:
    """Fixed Poisson rates against two arms, interleaved and alternating by round; the headline
    is the candidate over the baseline per round, latency and server CPU per request."""

    work_name = ""
    baseline, candidate = "", ""
    goal_ratio = 1.0
    method, notes = "", []

    @contextmanager
    def arms(self, ctx: Context, work: Path) -> Iterator[dict[str, Arm]]:
        raise NotImplementedError

    def run(self, ctx: Context) -> BenchResult:
        rates = ctx.mode.pick([200, 1000, 2000], [200, 1000], tiny=[100])
        rounds = ctx.mode.pick(5, 3, tiny=1)
        seconds = ctx.mode.pick(6.0, 4.0, tiny=2.0)
        work = ctx.work / self.work_name
        work.mkdir(parents=True, exist_ok=True)
        order = [self.baseline, self.candidate]
        with self.arms(ctx, work) as arms:
            steps = [self._step(ctx, work, index, name, arms[name], rate, seconds)
                     for index in range(1, rounds + 1) for rate in rates
                     for name in (order if index % 2 else order[::-1])]
        return self._result(steps, rates, rounds, seconds)

    def _step(self, ctx: Context, work, index: int, name: str, arm: Arm, rate: int, seconds: float) -> dict:
        label = f"{self.work_name}-{name.split()[0].replace('/', '').lower()}-{rate}-{index}"
        scenario = fixed_rate_scenario(label, index, f"model: sim, protocol: {arm.protocol}{arm.target_extra}",
                                       seconds + 1, rate, [f"p99(latency) < {SLO_MS:g}ms"])
        cpu_before = _cpu_s(arm.process)
        summary = run_slogate(label, scenario, arm.url, work).summary
        latency = summary["latency_ms"]
        step = {"round": index, "arm": name, "rate": rate, "achieved": summary["load"]["achieved_rate"],
                "p50_ms": latency["p50"], "p99_ms": latency["p99"], "errors": summary["errors"]["total"],
                "server_cpu_us": (_cpu_s(arm.process) - cpu_before) / max(summary["load"]["requests"], 1) * 1e6,
                "meets_slo": summary["verdict"] == "pass"}
        ctx.log(f"  round {index} {name:>13} {rate:>5}/s -> p50 {ms(step['p50_ms'])} p99 {ms(step['p99_ms'])} ms, "
                f"server {step['server_cpu_us']:.0f} us/request, errors {step['errors']}, {summary['verdict']}")
        return step

    def _result(self, steps: list[dict], rates: list[int], rounds: int, seconds: float) -> BenchResult:
        base, cand = self.baseline, self.candidate

        def series(arm: str, rate: int, key: str) -> list[float]:
            return [s[key] for s in sorted(steps, key=lambda s: s["round"]) if s["arm"] == arm and s["rate"] == rate]

        def ratio_of(rate: int, key: str) -> PairedRatio:
            """Over the rounds where both arms have the figure: a saturated arm's p99 can be unknown."""
            pairs = [(c, b) for c, b in zip(series(cand, rate, key), series(base, rate, key), strict=True)
                     if c is not None and b is not None]
            return paired_ratio([c for c, _ in pairs], [b for _, b in pairs])

        p50 = {rate: ratio_of(rate, "p50_ms") for rate in rates}
        cpu = {rate: ratio_of(rate, "server_cpu_us") for rate in rates}
        headline = [[rate, _median(series(base, rate, "p50_ms")), _median(series(cand, rate, "p50_ms")),
                     p50[rate].median, _interval(p50[rate]), cpu[rate].median, _interval(cpu[rate]),
                     f"{sum(series(cand, rate, 'meets_slo'))}/{rounds}"] for rate in rates]
        rows = [[s["round"], s["arm"], s["rate"], s["achieved"], s["p50_ms"], s["p99_ms"], s["server_cpu_us"],
                 s["errors"], s["meets_slo"]] for s in steps]
        top = rates[-1]
        return BenchResult(
            self.key, self.title, self.method,
            tables=[Table(f"{cand} / {base}, median over {rounds} rounds (90% bootstrap interval)",
                          ["req/s", f"{base} p50 ms", f"{cand} p50 ms", f"p50 {cand} / {base}", "interval",
                           f"server CPU {cand} / {base}", "interval", f"{cand} rounds with p99 < {SLO_MS:g} ms"],
                          headline),
                    Table(f"Every step ({seconds:g} s measured after 1 s of warm-up)",
                          ["round", "arm", "offered req/s", "sent req/s", "p50 ms", "p99 ms",
                           "server CPU us/request", "errors", f"p99 < {SLO_MS:g} ms"], rows)],
            goals=[at_most_surely(f"p50 latency at {top} req/s, {cand} / {base}", p50[top].median,
                                  p50[top].interval, self.goal_ratio)],
            notes=self.notes,
        )


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _interval(found: PairedRatio) -> str:
    return "—" if found.interval is None else f"{found.interval[0]:.3f}–{found.interval[1]:.3f}"
