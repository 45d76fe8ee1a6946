"""B2: coordinated omission. A 2 s server stall, seen by slogate, by locust, and as it truly was.

The suite, not the load tool, stalls the server (SIGSTOP, then SIGCONT), at the same point
of each tool's load, so both tools face the same fault the same way. The truth comes from
the schedule: every request the intended 100 req/s would have sent, served by the `sim`
model exactly as it serves (constant service time, 64 concurrent slots, sleeps that fire
at SIGCONT), with the stall where it actually fell.
"""

from __future__ import annotations

import heapq
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from benchmarks.locust_peer import run_locust
from benchmarks.processes import reference_server, serving
from benchmarks.slogate_cli import run_slogate
from benchmarks.suite import BenchResult, Context, Table, register, within
from reference_server.demo.repository import ensure_demo_repo

SERVICE_S = 0.010  # the demo sim model: constant 10 ms
SLOTS = 64  # and its concurrency
QUANTILES = (50.0, 90.0, 99.0, 99.9)
COUNT_LINE = re.compile(r'^slogate_request_latency_seconds_count\{[^}]*model="sim"[^}]*\} ([0-9.e+]+)$', re.MULTILINE)

SCENARIO = """\
name: b2-coordinated-omission
seed: 1
target: {{url: http://placeholder, model: sim, protocol: oip-v2}}
workload:
  phases:
    - {{name: load, duration: {seconds}s, arrival: {{process: constant, rate: {rate}}}}}
  warmup: 0s
  payload: {{generator: tabular}}
analysis:
  max_lag_p99: 5ms
"""

LOCUSTFILE = """
from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

BODY = b'{{"inputs":[{{"name":"features","shape":[1,14],"datatype":"FP32","data":[45,21,0.25,1665,3.1,0,40.5,1.1,0,0,0,0,1,0]}}]}}'


class Caller(FastHttpUser):
    wait_time = constant_throughput({per_user})

    @task
    def infer(self):
        self.client.post("/v2/models/sim/infer", data=BODY, headers={{"content-type": "application/json"}})
"""


@dataclass
class Stall:
    start_s: float  # from the first request of the load
    end_s: float


class Staller(threading.Thread):
    """Waits for the load to reach the server, then stops the server for `stall_s` at `at_s` into it."""

    def __init__(self, pid: int, base_url: str, at_s: float, stall_s: float, timeout_s: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.metrics_url = pid, base_url + "/metrics"
        self.at_s, self.stall_s, self.timeout_s = at_s, stall_s, timeout_s
        self.stall: Stall | None = None

    def run(self) -> None:
        baseline = self._served()
        deadline = time.perf_counter() + self.timeout_s
        while self._served() == baseline:
            if time.perf_counter() > deadline:
                return
            time.sleep(0.005)
        load_start = time.perf_counter() - SERVICE_S  # the counter moves when the first answer is sent
        time.sleep(max(0.0, load_start + self.at_s - time.perf_counter()))
        os.kill(self.pid, signal.SIGSTOP)
        stopped = time.perf_counter()
        try:
            time.sleep(self.stall_s)
        finally:
            os.kill(self.pid, signal.SIGCONT)
        self.stall = Stall(stopped - load_start, time.perf_counter() - load_start)

    def _served(self) -> float:
        text = httpx.get(self.metrics_url, timeout=5).text
        return sum(float(v) for v in COUNT_LINE.findall(text))


def true_latencies(rate: float, seconds: float, stall: Stall) -> np.ndarray:
    """Latency of every scheduled request through the sim model's real behaviour (seconds).

    A hand-written discrete-event pass: no library models "asyncio sleeps that fire late
    after SIGCONT" and it is ten lines.
    """
    free = [0.0] * SLOTS
    latencies = []
    for intended in np.arange(int(rate * seconds)) / rate:
        arrives = stall.end_s if stall.start_s <= intended < stall.end_s else intended
        start = max(arrives, heapq.heappop(free))
        finish = start + SERVICE_S
        if start < stall.start_s < finish:
            finish = max(finish, stall.end_s)
        elif stall.start_s <= start < stall.end_s:
            finish = stall.end_s + SERVICE_S
        heapq.heappush(free, finish)
        latencies.append(finish - intended)
    return np.asarray(latencies)


def percentiles(values_ms: np.ndarray) -> dict[str, float]:
    return {f"p{q:g}": float(np.percentile(values_ms, q)) for q in QUANTILES}


@dataclass(frozen=True)
class Case:
    rate: float
    seconds: float
    stall_at: float
    stall_s: float
    locust_shapes: tuple[tuple[int, float], ...] = ()  # (users, constant_throughput per user)

    @property
    def label(self) -> str:
        return f"{self.rate:g} req/s intended for {self.seconds:g} s, a {self.stall_s:g} s SIGSTOP at {self.stall_at:g} s"


@register("B2")
class CoordinatedOmission:
    title = "Coordinated omission: a server stall seen by slogate, by locust, and as it was"
    micro = ("test_send_path.py::test_send_path_per_two_thousand_requests", "test_schedule.py")

    def run(self, ctx: Context) -> BenchResult:
        cases = ctx.mode.pick(
            [Case(100.0, 20, 9.0, 2.0, ((10, 10.0), (100, 1.0))), Case(200.0, 10, 5.0, 0.2)],
            [Case(100.0, 20, 9.0, 2.0, ((10, 10.0),)), Case(200.0, 10, 5.0, 0.2)],
            tiny=[Case(100.0, 4, 1.5, 1.0, ((10, 10.0),))],
        )
        work = ctx.work / "b2"
        work.mkdir(parents=True, exist_ok=True)
        with serving(reference_server(ensure_demo_repo(ctx.cache), "sim"), work) as server:
            views = [self._case(server, case, work / f"case-{i}") for i, case in enumerate(cases)]
        return self._result(cases, views, ctx)

    def _case(self, server, case: Case, work: Path) -> list[Seen]:
        work.mkdir(parents=True, exist_ok=True)

        def stalled(drive):
            return self._stalled(server, case.stall_at, case.stall_s, case.seconds, drive)

        scenario = SCENARIO.format(seconds=case.seconds, rate=case.rate)
        stall, run = stalled(lambda: run_slogate("slogate", scenario, server.base_url, work))
        truth_ms = true_latencies(case.rate, case.seconds, stall) * 1e3
        seen = [Seen("true (from the schedule)", truth_ms.size, percentiles(truth_ms), stall, truth_ms)]
        seen.append(Seen("slogate, open loop", run.summary["latency_ms"]["n"], run.summary["latency_ms"], stall,
                         _slogate_latencies_ms(run.records())))
        for users, per_user in case.locust_shapes:
            stall_l, locust = stalled(lambda u=users, p=per_user: run_locust(
                LOCUSTFILE.format(per_user=p), server.base_url, u, int(case.seconds), work / f"locust-{u}", samples=True))
            seen.append(Seen(f"locust, {users} users × constant_throughput({per_user:g})", locust.requests,
                             locust.reported_ms, stall_l, np.asarray([s[1] for s in locust.samples if not s[2]])))
        return seen

    def _stalled(self, server, at_s: float, stall_s: float, seconds: float, drive):
        staller = Staller(server.process.pid, server.base_url, at_s, stall_s, timeout_s=seconds + 60)
        staller.start()
        result = drive()
        staller.join(stall_s + 5)
        if staller.stall is None:
            raise RuntimeError("the load never reached the server, so the stall was not applied")
        return staller.stall, result

    def _result(self, cases: list[Case], views: list[list[Seen]], ctx: Context) -> BenchResult:
        tables, goals = [], []
        for case, seen in zip(cases, views, strict=True):
            truth, ours = seen[0], seen[1]
            rows = [[s.label, s.n, s.ms["p50"], s.ms["p90"], s.ms["p99"], s.ms["p99.9"], s.ms["p99"] / truth.ms["p99"],
                     s.ms["p99.9"] / truth.ms["p99.9"], f"{s.stall.start_s:.2f}–{s.stall.end_s:.2f}"] for s in seen]
            tables.append(Table(case.label, ["measured by", "requests", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms",
                                             "p99 / true", "p99.9 / true", "stall applied (s into load)"], rows))
            stall = f"{case.stall_s:g} s stall at {case.rate:g} req/s"
            goals += [within(f"slogate p99 / true p99 ({stall})", ours.ms["p99"] / truth.ms["p99"], 0.95, 1.05),
                      within(f"slogate p99.9 / true p99.9 ({stall})", ours.ms["p99.9"] / truth.ms["p99.9"], 0.95, 1.05)]
        return BenchResult(self.key, self.title, METHOD, tables=tables, goals=goals,
                           plots=[plot_b2(views[0], ctx.figures_dir / "b2_coordinated_omission.png")], notes=NOTES)


@dataclass
class Seen:
    """One view of the run: its label, sample count, percentiles (ms) and every latency (ms)."""

    label: str
    n: int
    ms: dict[str, float]
    stall: Stall
    latencies_ms: np.ndarray


def _slogate_latencies_ms(records) -> np.ndarray:
    ok = records[records.error_kind.isna()]
    return (ok.done_ns - ok.intended_ns).to_numpy() / 1e6


def plot_b2(seen: list[Seen], path: Path) -> Path:
    """HdrHistogram's percentile-distribution view: the tail is where coordinated omission hides."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for s in seen:
        values = np.sort(s.latencies_ms)
        quantile = (np.arange(values.size) + 0.5) / values.size
        ax.plot(1 / (1 - quantile), values, label=f"{s.label} (p99 {s.ms['p99']:.0f} ms)",
                linestyle="--" if s.label.startswith("true") else "-")
    ax.set(xscale="log", yscale="log", xlabel="percentile", ylabel="latency (ms)",
           title="Latency by percentile through a server stall")
    ticks = [2, 10, 100, 1000]
    ax.set_xticks(ticks, [f"p{100 * (1 - 1 / t):g}" for t in ticks])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


NOTES = [
    ("The true percentiles count the ~1 ms of HTTP and JSON per request as zero, so they are a floor; "
     "slogate's extra millisecond or so is that overhead, not error."),
    ("Locust's figures are its own report (its stats CSV, which rounds response times into buckets). Its latency "
     "starts when a user sends, and a user blocked by the stall sends nothing, so the stall hides inside a "
     "handful of samples."),
    ("Locust runs for the same wall time, spawning included, so it sends a little under the schedule's count "
     "even without the stall."),
]

METHOD = """
The reference server serves the demo `sim` model (constant 10 ms, 64 concurrent slots).
Each tool runs for the same time against the same server: slogate with a constant
open-loop schedule (`slogate run --target-url`), locust with FastHttpUser users paced by
`constant_throughput` so that together they ask for the same rate, as locust's docs
suggest for a fixed rate. The first case stalls the server for 2 s at 100 req/s, which
dominates every tail percentile; the second stalls it for 200 ms at 200 req/s, where 2%
of the requests meet the stall and ±5% is a tight tolerance. While each runs, the suite waits until the server has answered
its first request, then at the same offset stops the server with SIGSTOP and resumes it
with SIGCONT after the stall. The truth replays the schedule through the sim
model's actual behaviour, with the stall where it fell in slogate's run. A tool that
measures from the intended send time should match it; one that measures from its own send,
and stops sending while blocked, should not.
"""
