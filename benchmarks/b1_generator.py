"""B1: load-generator capacity. slogate's open-loop generator, locust FastHttpUser and wrk.

All three drive the same trivial endpoint: nginx returning a fixed JSON body, so the target
costs little CPU and is never the bottleneck. Each slogate step runs in a child process
(`python -m benchmarks.b1_generator --url URL --rate R --seconds S` prints its figures), so
its CPU time is the generator's alone.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

from benchmarks.locust_peer import run_locust
from benchmarks.processes import free_port
from benchmarks.suite import BenchResult, Context, Table, at_least, at_most, ratio, register

LAG_LIMIT_MS = 1.0
RATE_TOLERANCE = 0.02
# Opened before the schedule starts, as `slogate run` does for its expected concurrency:
# without them the first millisecond's sends each open a connection and the burst snowballs.
WARM_CONNECTIONS = 256
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
  uwsgi_temp_path {dir}; scgi_temp_path {dir};
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{{"model_version":"1","outputs":[]}}'; }}
  }}
}}
"""
LOCUSTFILE = """
from locust import task
from locust.contrib.fasthttp import FastHttpUser


class Hammer(FastHttpUser):
    @task
    def post(self):
        self.client.post("/", data=b'{"x": 1}', headers={"content-type": "application/json"})
"""
PER_USER_RATE = 10.0  # locust at a fixed rate: users × constant_throughput(10), as its docs suggest
PACED_LOCUSTFILE = """
from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser


class Paced(FastHttpUser):
    wait_time = constant_throughput({per_user})

    @task
    def post(self):
        self.client.post("/", data=b'{{"x": 1}}', headers={{"content-type": "application/json"}})
"""


async def slogate_at(url: str, rate: float, seconds: float) -> dict:
    """One open-loop step at a constant `rate`, measured inside this (child) process."""
    import aiohttp

    from harness.clients.base import Endpoint, make_client
    from harness.contracts import Payload
    from harness.load.dispatch import Dispatcher, PreparedPayloads
    from harness.load.gc_pause import frozen_gc
    from harness.load.openloop import run_open_loop
    from harness.records import RecordLog
    from harness.workload.arrivals import Phase, build_schedule

    client = make_client("http-json", Endpoint(base_url=url, timeout_s=5.0))
    (schedule,) = build_schedule([Phase(duration=seconds, arrival={"process": "constant", "rate": rate})], 0)
    payloads = PreparedPayloads([client.encode(Payload(0, {"x": 1}))], [0], [None], [None], [math.nan])
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2000)) as session:
        await client.warm(WARM_CONNECTIONS)
        t0 = time.perf_counter_ns() + 100_000_000
        log = RecordLog(t0)
        dispatcher = Dispatcher(session, client, payloads, t0, max_in_flight=2000, on_done=log.append)
        with frozen_gc():  # as `slogate run` does
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await run_open_loop(dispatcher, schedule, t0, 0)
            await dispatcher.drain(5.0)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return _step_figures(log.to_frame(), rate, cpu, wall)


def _step_figures(frame, rate: float, cpu: float, wall: float) -> dict:
    import numpy as np

    lag_ms = (frame.sent_ns - frame.intended_ns) / 1e6
    span_s = (frame.sent_ns.max() - frame.sent_ns.min()) / 1e9
    answered = frame[frame.error_kind.isna()]
    latency_ms = (answered.done_ns - answered.sent_ns) / 1e6 if len(answered) else [float("nan")]
    return {
        "target_rate": rate,
        "achieved_rate": (len(frame) - 1) / span_s if len(frame) > 1 else 0.0,
        "lag_p99_ms": float(np.percentile(lag_ms, 99)),
        "latency_p50_ms": float(np.percentile(latency_ms, 50)),
        "latency_p99_ms": float(np.percentile(latency_ms, 99)),
        "errors": int(frame.error_kind.notna().sum()),
        "cpu_us_per_request": cpu / max(len(frame), 1) * 1e6,
        "cpu_share": cpu / wall,
    }


def completed(step: dict) -> bool:
    """Every request sent, none failed, at the asked rate give or take 2%: lag may have grown."""
    return not step["errors"] and abs(step["achieved_rate"] / step["target_rate"] - 1) <= RATE_TOLERANCE


def held(step: dict) -> bool:
    return completed(step) and step["lag_p99_ms"] < LAG_LIMIT_MS


def step_held(rounds: list[dict], round_held: Callable[[dict], bool] = held) -> bool:
    """A rate is held when most of its rounds hold: one whole-machine stall must not sink it."""
    return sum(round_held(r) for r in rounds) * 2 > len(rounds)


def held_from_the_bottom(ladder: dict[float, list[dict]], round_held: Callable[[dict], bool] = held) -> float | None:
    """The highest rate at which that step and every lower one held: not the best of a noisy ladder."""
    best = None
    for rate in sorted(ladder):
        if not step_held(ladder[rate], round_held):
            break
        best = rate
    return best


def start_nginx(workdir: Path) -> tuple[subprocess.Popen, str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("B1 needs nginx as its trivial target: apt-get install -y nginx-light")
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=0.2).read()
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("nginx did not start")


def slogate_step(url: str, rate: float, seconds: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.b1_generator", "--url", url, "--rate", str(rate),
               "--seconds", str(seconds)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120)
    return json.loads(done.stdout)


def wrk_max(url: str, seconds: int) -> dict:
    process = psutil.Popen(["wrk", "-t1", "-c32", f"-d{seconds}s", url], stdout=subprocess.PIPE, text=True)
    cpu = 0.0
    while process.poll() is None:  # wrk starts in microseconds, so its whole CPU time is the run's
        try:
            times = process.cpu_times()
            cpu = times.user + times.system
        except psutil.Error:
            break
        time.sleep(0.1)
    requests = int(re.search(r"(\d+) requests in", process.stdout.read()).group(1))
    return {"achieved_rate": requests / seconds, "cpu_us_per_request": cpu / max(requests, 1) * 1e6}


@register("B1")
class GeneratorCapacity:
    title = "Load generator capacity: slogate vs locust vs wrk"
    micro = ("test_send_path.py::test_send_path_per_two_thousand_requests",
             "test_records.py::test_append_a_million_records", "test_schedule.py")

    def run(self, ctx: Context) -> BenchResult:
        rates = ctx.mode.pick([2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000], [2000, 6000, 10000, 14000],
                              tiny=[500])
        fixed = ctx.mode.pick([1000, 5000, 10000], [1000, 5000], tiny=[200])
        rounds = ctx.mode.pick(3, 3, tiny=1)
        seconds = ctx.mode.pick(5.0, 3.0, tiny=1.0)
        beyond = ctx.mode.pick(8, 6, tiny=1)
        workdir = ctx.work / "b1"
        workdir.mkdir(parents=True, exist_ok=True)
        nginx, url = start_nginx(workdir)
        try:
            ladder = {float(r): [self._logged(ctx, slogate_step(url, float(r), seconds)) for _ in range(rounds)]
                      for r in rates}
            full_speed = self._beyond(ctx, url, max(ladder), seconds, beyond)
            paced = [self._paced(ctx, url, rate, seconds, workdir) for rate in fixed]
            locust = run_locust(LOCUSTFILE, url, 32, int(seconds * 2) + 2, workdir / "locust")
            wrk = wrk_max(url, int(max(seconds, 2))) if shutil.which("wrk") else None
        finally:
            nginx.terminate()
            nginx.wait(5)
        return self._result(ladder, full_speed, paced, locust, wrk, seconds, ctx)

    def _logged(self, ctx: Context, step: dict) -> dict:
        ctx.log(f"  slogate {step['target_rate']:>7.0f}/s -> {step['achieved_rate']:7.0f}/s, "
                f"lag p99 {step['lag_p99_ms']:.3f} ms, {step['cpu_us_per_request']:.1f} µs/req")
        return step

    def _beyond(self, ctx: Context, url: str, rate: float, seconds: float, steps: int) -> list[dict]:
        """Past the ladder, +15% a step while every request still goes out on time or nearly:
        the last such step is slogate at full speed, every core-second spent sending."""
        found: list[dict] = []
        for _ in range(steps):
            rate *= 1.15
            found.append(self._logged(ctx, slogate_step(url, round(rate, -2), seconds)))
            if not completed(found[-1]):
                break
        return found

    def _paced(self, ctx: Context, url: str, rate: float, seconds: float, workdir: Path) -> dict:
        """CPU per request of slogate and of locust at the same fixed rate, below saturation."""
        ours = self._logged(ctx, slogate_step(url, rate, seconds))
        users = max(1, round(rate / PER_USER_RATE))
        theirs = run_locust(PACED_LOCUSTFILE.format(per_user=PER_USER_RATE), url, users, int(seconds) + 3,
                            workdir / f"locust-{rate:.0f}")
        ctx.log(f"  locust  {rate:>7.0f}/s -> {theirs.rate:7.0f}/s, {theirs.cpu_us_per_request:.1f} µs/req")
        return {"rate": rate, "ours": ours, "locust": theirs}

    def _result(self, ladder, full_speed, paced, locust, wrk, seconds, ctx) -> BenchResult:
        held_rate = held_from_the_bottom(ladder)
        every = [step for rounds in ladder.values() for step in rounds] + full_speed
        ours_max = max((s for s in every if completed(s)), key=lambda s: s["target_rate"])
        ladder_table = Table(f"slogate open loop, one process, {seconds:g} s per round, every round shown",
                             ["target req/s", "round", "achieved req/s", "schedule lag p99 ms", "errors",
                              "CPU µs/req", "CPU share", f"round held (lag p99 < {LAG_LIMIT_MS:g} ms, rate ±2%)",
                              "step held (most rounds)"],
                             [[rate, i + 1, s["achieved_rate"], s["lag_p99_ms"], s["errors"], s["cpu_us_per_request"],
                               s["cpu_share"], "yes" if held(s) else "no", "yes" if step_held(rounds) else "no"]
                              for rate, rounds in sorted(ladder.items()) for i, s in enumerate(rounds)])
        beyond_table = Table("Beyond the ladder: +15% a step while every request still goes out",
                             ["target req/s", "achieved req/s", "schedule lag p99 ms", "errors", "CPU µs/req",
                              "CPU share"],
                             [[s["target_rate"], s["achieved_rate"], s["lag_p99_ms"], s["errors"],
                               s["cpu_us_per_request"], s["cpu_share"]] for s in full_speed])
        paced_table = Table("CPU per request at fixed rates below saturation, slogate vs locust at the same rate",
                            ["rate req/s", "slogate µs/req", "slogate lag p99 ms", "locust µs/req",
                             "locust achieved req/s", "slogate / locust"],
                            [[p["rate"], p["ours"]["cpu_us_per_request"], p["ours"]["lag_p99_ms"],
                              p["locust"].cpu_us_per_request, p["locust"].rate,
                              ratio(p["ours"]["cpu_us_per_request"], p["locust"].cpu_us_per_request)] for p in paced])
        per_core = {"slogate": 1e6 / ours_max["cpu_us_per_request"], "locust": 1e6 / locust.cpu_us_per_request}
        peers = [["slogate, highest rate it completes", ours_max["achieved_rate"], ours_max["cpu_us_per_request"],
                  per_core["slogate"], f"lag p99 {ours_max['lag_p99_ms']:.2f} ms, CPU share {ours_max['cpu_share']:.2f}"],
                 ["locust FastHttpUser, 32 users", locust.rate, locust.cpu_us_per_request, per_core["locust"],
                  f"{locust.failures} failures; steady window only"]]
        if wrk:
            peers.append(["wrk -t1 -c32", wrk["achieved_rate"], wrk["cpu_us_per_request"],
                          1e6 / wrk["cpu_us_per_request"], "C, closed loop"])
        lowest = paced[0]
        plot = plot_b1(ladder, peers, ctx.figures_dir / "b1_generator.png")
        return BenchResult(
            self.key, self.title, METHOD,
            tables=[ladder_table, beyond_table, paced_table,
                    Table("Highest rate each reaches, and its max rate per core",
                          ["generator", "req/s", "CPU µs/req", "max rate per core (req/s)", "note"], peers)],
            goals=[at_least("slogate: highest rate held at that step and every lower one (2 of 3 rounds), one process",
                            held_rate or 0.0, 6000, " req/s"),
                   at_least("max rate per core, slogate / locust", ratio(per_core["slogate"], per_core["locust"]), 2.0),
                   at_most(f"CPU per request at {lowest['rate']:,.0f} req/s, slogate / locust",
                           ratio(lowest["ours"]["cpu_us_per_request"], lowest["locust"].cpu_us_per_request), 0.5)],
            plots=[plot],
            notes=["slogate has no multi-process sending yet, so there is no N-worker row.",
                   "Locust has no schedule: it has no schedule lag to report, only the rate it reaches.",
                   ("Max rate per core is 1 / (CPU per request) at full speed: the rate one core would send "
                    "with nothing else to do.")],
        )


def plot_b1(ladder: dict[float, list[dict]], peers: list[list], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for rate, rounds in sorted(ladder.items()):
        left.scatter([rate] * len(rounds), [r["lag_p99_ms"] for r in rounds], color="tab:blue", s=18)
    medians = [(rate, sorted(r["lag_p99_ms"] for r in rounds)[len(rounds) // 2]) for rate, rounds in sorted(ladder.items())]
    left.plot(*zip(*medians, strict=True), color="tab:blue", label="schedule lag p99 (every round; line: median)")
    left.axhline(LAG_LIMIT_MS, color="red", linestyle="--", label=f"{LAG_LIMIT_MS:g} ms limit")
    left.set(xlabel="target rate (req/s)", ylabel="ms", title="slogate: schedule lag vs rate", yscale="log")
    left.legend(fontsize=8)
    names = [row[0].split(" ")[0] for row in peers]
    right.bar(names, [row[3] for row in peers], color=["tab:blue", "tab:orange", "tab:gray"][: len(peers)])
    for i, row in enumerate(peers):
        right.annotate(f"{row[1]:,.0f} req/s reached", (i, row[3]), ha="center", va="bottom", fontsize=8)
    right.set(ylabel="req/s per core (1 / CPU per request)", title="max rate per core at full speed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


METHOD = """
The target is nginx (one worker) returning a fixed JSON body on loopback. slogate steps
through constant rates, each step run three times, each round a fresh child process using
the harness's real dispatcher and open-loop driver (http-json client). A round is *held*
when schedule lag p99 < 1 ms, the achieved rate is within 2% of the target and nothing
failed; a step is held when most of its rounds are. The headline is the highest rate at
which that step and every lower one held, not the best step of a noisy ladder. The
generator waits for each send on a kernel timer (timerfd) rather than spinning through the
last 1.5 ms, so below saturation it leaves the CPU idle; the fixed-rate table measures
that against locust asked for the same rate (users × `constant_throughput(10)`). Past the
ladder, +15% a step while every request still goes out gives slogate at full speed, whose
CPU per request gives its max rate per core. Locust (FastHttpUser, 32 users, no wait, one
process) and wrk (1 thread, 32 connections) run flat out; locust's CPU per request is
measured inside its process over the steady window, after spawning.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="one slogate open-loop step; figures as JSON on stdout")
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    from harness.entry.eventloop import run

    print(json.dumps(run(slogate_at(args.url, args.rate, args.seconds))))


if __name__ == "__main__":
    main()
