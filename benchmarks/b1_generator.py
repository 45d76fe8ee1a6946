"""B1: load-generator capacity — slogate's open-loop generator vs locust FastHttpUser vs wrk.

All three drive the same trivial endpoint (nginx returning a fixed JSON body, so the
server is never the bottleneck and costs little CPU), in the same run. Reported:

* slogate: for a ladder of target rates, the achieved rate, schedule-lag p99 and CPU
  seconds per request of the generator process; the headline is the highest rate whose
  lag p99 stays under 1 ms with the achieved rate within 2 % of the target.
* locust (FastHttpUser, no wait, one process): the highest rate it reaches and its CPU
  per request. Locust has no schedule, so "lag" does not exist for it.
* wrk: the highest rate and CPU per request, as the floor for what a C generator costs.

Run: `python benchmarks/bench_generator.py [--seconds 5] [--rates 1000,2000,4000,6000,8000]`.
Nothing here is a test: figures go to stdout (and RESULTS.md via the suite, when it exists).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil

import harness.plugins  # noqa: F401 - registers the http-json client
from harness.clients.base import Endpoint, Payload, make_client
from harness.load.dispatch import Dispatcher, PreparedPayloads
from harness.load.openloop import run_open_loop
from harness.records import RecordLog
from harness.scenario import Arrival, Phase
from harness.targets.managed import free_port
from harness.workload.arrivals import build_schedule

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


def start_nginx(workdir: Path) -> tuple[subprocess.Popen, str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            import urllib.request

            urllib.request.urlopen(url, timeout=0.2).read()
            return process, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


async def slogate_at(url: str, rate: float, seconds: float) -> dict:
    client = make_client("http-json", Endpoint(base_url=url, timeout_s=5.0))
    (schedule,) = build_schedule([Phase(duration=seconds, arrival=Arrival(process="constant", rate=rate))], 0)
    body = client.encode(Payload(0, {"x": 1}))
    payloads = PreparedPayloads([body], [0], [None])
    connector = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter_ns() + 100_000_000
        log = RecordLog(t0)
        dispatcher = Dispatcher(session, client, log, payloads, t0, max_in_flight=2000)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run_open_loop(dispatcher, schedule, t0, 0)
        await dispatcher.drain(5.0)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    frame = log.to_frame()
    lag_ms = (frame.sent_ns - frame.intended_ns) / 1e6
    span_s = (frame.sent_ns.max() - frame.sent_ns.min()) / 1e9
    return {
        "target_rate": rate,
        "achieved_rate": (len(frame) - 1) / span_s if len(frame) > 1 else 0.0,
        "lag_p99_ms": float(np.percentile(lag_ms, 99)),
        "errors": int(frame.error_kind.notna().sum()),
        "cpu_us_per_request": cpu / max(len(frame), 1) * 1e6,
        "cpu_share": cpu / wall,
    }


def locust_max(url: str, seconds: float, users: int, workdir: Path) -> dict:
    locustfile = workdir / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = workdir / "locust"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users), "-r", str(users),
               "-t", f"{int(seconds)}s", "--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"]
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = _cpu_until_exit(process)
    stats = _locust_totals(prefix.with_name("locust_stats.csv"))
    return {"achieved_rate": stats["requests"] / seconds, "cpu_us_per_request": cpu / max(stats["requests"], 1) * 1e6,
            "failures": stats["failures"]}


def _cpu_until_exit(process: psutil.Popen) -> float:
    cpu = 0.0
    while process.poll() is None:
        try:
            times = process.cpu_times()
            cpu = times.user + times.system
        except psutil.Error:
            break
        time.sleep(0.2)
    return cpu


def _locust_totals(path: Path) -> dict:
    import csv

    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"])}
    raise RuntimeError(f"no aggregate row in {path}")


def wrk_max(url: str, seconds: float) -> dict:
    process = psutil.Popen(["wrk", "-t1", "-c32", f"-d{int(seconds)}s", url], stdout=subprocess.PIPE, text=True)
    cpu = _cpu_until_exit(process)
    output = process.stdout.read()
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return {"achieved_rate": requests / seconds, "cpu_us_per_request": cpu / max(requests, 1) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="1000,2000,4000,6000,8000")
    parser.add_argument("--locust-users", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    workdir = Path(tempfile.mkdtemp(prefix="slogate-bench-"))
    nginx, url = start_nginx(workdir)
    try:
        ladder = [asyncio.run(slogate_at(url, float(rate), args.seconds)) for rate in args.rates.split(",")]
        locust = locust_max(url, args.seconds * 2, args.locust_users, workdir)
        wrk = wrk_max(url, args.seconds) if shutil.which("wrk") else None
    finally:
        nginx.terminate()
        nginx.wait(5)
    report(ladder, locust, wrk, args.json)


def report(ladder: list[dict], locust: dict, wrk: dict | None, json_path: Path | None) -> None:
    print("slogate open loop (one process):")
    for row in ladder:
        print(textwrap.dedent(f"""\
          target {row['target_rate']:>7.0f}/s  achieved {row['achieved_rate']:>7.0f}/s  lag p99 {row['lag_p99_ms']:6.3f} ms  \
cpu {row['cpu_us_per_request']:6.1f} µs/req  errors {row['errors']}"""))
    held = [r for r in ladder if r["lag_p99_ms"] < 1.0 and abs(r["achieved_rate"] / r["target_rate"] - 1) <= 0.02 and not r["errors"]]
    best = max(held, key=lambda r: r["target_rate"]) if held else None
    print(f"locust FastHttpUser: {locust['achieved_rate']:.0f}/s at {locust['cpu_us_per_request']:.1f} µs/req")
    if wrk:
        print(f"wrk: {wrk['achieved_rate']:.0f}/s at {wrk['cpu_us_per_request']:.1f} µs/req")
    if best:
        ratio = best["cpu_us_per_request"] / locust["cpu_us_per_request"]
        print(f"highest rate held with lag p99 < 1 ms: {best['target_rate']:.0f}/s; CPU per request vs locust: {ratio:.2f}x")
    if json_path:
        json_path.write_text(json.dumps({"slogate": ladder, "locust": locust, "wrk": wrk}, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
