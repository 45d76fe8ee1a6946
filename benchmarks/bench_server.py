"""B2: the reference server vs a plain FastAPI endpoint, same fraud weights, same run.

Headline: the highest request rate each server sustains with p99 latency < 25 ms, and the
ratio (goal: the reference server ≥ 1.5× the FastAPI peer).

Method. Debian's wrk is closed-loop (no wrk2 fixed-rate mode), so the load level is the
number of connections: each server is driven at 1, 2, 4, ... 256 connections for a few
seconds each (`wrk -t1 -cN --latency`, a 1-line Lua script for the POST body). At every
level wrk reports the achieved rate and the latency percentiles; a level qualifies when
p99 < 25 ms and every response was a 2xx. The figure is the best qualifying rate. The
ladder stops early once two consecutive levels miss the SLO. Closed-loop p99 understates
the tail under overload (coordinated omission), equally for both servers; the ladder only
ranks them. The two servers are measured alternately for `--rounds` rounds and each keeps
its best figure, so interference from other work on a shared 2-core box hits both alike.

Both run uvicorn + uvloop + httptools with one worker and torch at 1 thread; the reference
server serves fraud/1 (pinned path, dynamic batching as configured in model.json), the peer
calls the same weights inline per request (benchmarks/peers/fastapi_fraud.py).

Run: `python benchmarks/bench_server.py [--seconds 5] [--rounds 2] [--slo-ms 25]`.
Needs wrk (`apt-get install -y wrk`). Not a test: figures go to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import platformdirs

from reference_server.demo_models import ensure_demo_repo

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ROW = [45.0, 21, 0.25, 1665, 3.1, 0, 40.5, 1.1, 0, 0, 0, 0, 1, 0]
BODY = json.dumps({"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 14], "data": ROW}]})
LUA = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class Level:
    connections: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int

    def meets(self, slo_ms: float) -> bool:
        return self.errors == 0 and self.p99_ms < slo_ms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(command: list[str], ready_url: str) -> Iterator[None]:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{command[:3]} not ready in 60 s")
        yield
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(url: str, script: Path, connections: int, seconds: int) -> Level:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "2s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Level(connections, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                 _percentile(out, "50%"), _percentile(out, "99%"), errors)


def _percentile(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def ladder(name: str, url: str, script: Path, seconds: int, slo_ms: float) -> list[Level]:
    wrk(url, script, 8, 2)  # warm-up: first requests, allocator, CPU caches
    levels: list[Level] = []
    misses = 0
    for connections in LEVELS:
        level = wrk(url, script, connections, seconds)
        levels.append(level)
        print(f"  {name:8s} c={connections:<4d} {level.rate:9.0f} req/s  p50 {level.p50_ms:6.2f} ms  "
              f"p99 {level.p99_ms:7.2f} ms  errors {level.errors}", flush=True)
        misses = 0 if level.meets(slo_ms) else misses + 1
        if misses == 2:
            break
    return levels


def best(levels: list[Level], slo_ms: float) -> Level | None:
    qualifying = [lv for lv in levels if lv.meets(slo_ms)]
    return max(qualifying, key=lambda lv: lv.rate) if qualifying else None


def main() -> int:
    parser = argparse.ArgumentParser(description="reference server vs FastAPI peer: max rate with p99 < SLO")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slo-ms", type=float, default=25.0)
    parser.add_argument("--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("slogate")))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    repo = ensure_demo_repo(args.cache_dir)
    ours_port, peer_port = free_port(), free_port()
    servers = {
        "ours": ([sys.executable, "-m", "reference_server", "--model-repo", str(repo), "--port", str(ours_port),
                  "--log-level", "warning"], f"http://127.0.0.1:{ours_port}",
                 "/v2/models/fraud/versions/1/infer"),
        "fastapi": ([sys.executable, str(ROOT / "benchmarks" / "peers" / "fastapi_fraud.py"), "--version-dir",
                     str(repo / "fraud" / "1"), "--port", str(peer_port)], f"http://127.0.0.1:{peer_port}",
                    "/v2/models/fraud/infer"),
    }
    figures: dict[str, Level | None] = {name: None for name in servers}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA)
        for round_no in range(1, args.rounds + 1):
            for name, (command, base, path) in servers.items():
                print(f"round {round_no}: {name}", flush=True)
                with running(command, base + "/v2/health/ready"):
                    found = best(ladder(name, base + path, script, args.seconds, args.slo_ms), args.slo_ms)
                current = figures[name]
                if found is not None and (current is None or found.rate > current.rate):
                    figures[name] = found
    print(f"\nhighest rate with p99 < {args.slo_ms:g} ms (best of {args.rounds} rounds):")
    for name, level in figures.items():
        print(f"  {name:8s} " + ("none qualified" if level is None else
                                 f"{level.rate:8.0f} req/s at c={level.connections} (p99 {level.p99_ms:.2f} ms)"))
    ours, peer = figures["ours"], figures["fastapi"]
    if ours and peer:
        print(f"  ratio    {ours.rate / peer.rate:.2f}x (goal >= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
