"""Locust as a peer: one headless locust process, and what it measured about itself.

Locust runs as its own process (gevent must stay out of the asyncio harness). The
locustfile gets a probe appended that, inside the locust process, snapshots its CPU time
and request count once the first `skip_s` seconds have passed and again at test stop, so
CPU per request covers the steady window and not locust's imports and spawning; it can also
keep every request's start time and response time for a coordinated-omission comparison.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROBE = '''

# --- appended by benchmarks/locust_peer.py ---
import json as _json
import os as _os
import time as _time

import gevent as _gevent
from locust import events as _events

_probe = {"samples": []}


def _snapshot(environment):
    return [_time.perf_counter(), _time.process_time(), environment.stats.total.num_requests]


@_events.test_start.add_listener
def _probe_start(environment, **_):
    def take():
        _probe["start"] = _snapshot(environment)
    _gevent.spawn_later(float(_os.environ["SLOGATE_PROBE_SKIP_S"]), take)


if _os.environ.get("SLOGATE_PROBE_SAMPLES") == "1":
    @_events.request.add_listener
    def _probe_request(start_time, response_time, exception, **_):
        _probe["samples"].append([start_time, response_time, exception is not None])


@_events.test_stop.add_listener
def _probe_stop(environment, **_):
    _probe["stop"] = _snapshot(environment)
    with open(_os.environ["SLOGATE_PROBE_OUT"], "w") as handle:
        _json.dump(_probe, handle)
'''


@dataclass
class LocustRun:
    rate: float  # requests/s over the steady window
    cpu_us_per_request: float  # locust process CPU over the steady window
    requests: int
    failures: int
    reported_ms: dict[str, float]  # locust's own percentiles (p50 … p99.9, max), from its stats CSV
    samples: list[tuple[float, float, bool]]  # (start unix s, response ms, failed), when asked for


def run_locust(locustfile: str, host: str, users: int, seconds: int, work: Path, *, skip_s: float = 2.0,
               samples: bool = False) -> LocustRun:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "locustfile.py"
    path.write_text(locustfile + PROBE)
    probe_out, prefix = work / "probe.json", work / "locust"
    command = [sys.executable, "-m", "locust", "-f", str(path), "--headless", "-u", str(users), "-r", str(users),
               "-t", f"{seconds}s", "--host", host, "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"]
    env = {"SLOGATE_PROBE_SKIP_S": str(skip_s), "SLOGATE_PROBE_OUT": str(probe_out),
           "SLOGATE_PROBE_SAMPLES": "1" if samples else "0"}
    with (work / "locust.log").open("wb") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env},
                       timeout=seconds + 120, check=False)
    probe = json.loads(probe_out.read_text())
    (wall0, cpu0, n0), (wall1, cpu1, n1) = probe["start"], probe["stop"]
    totals = _aggregate_row(prefix.with_name("locust_stats.csv"))
    return LocustRun(
        rate=(n1 - n0) / (wall1 - wall0),
        cpu_us_per_request=(cpu1 - cpu0) / max(n1 - n0, 1) * 1e6,
        requests=int(totals["Request Count"]),
        failures=int(totals["Failure Count"]),
        reported_ms={f"p{key[:-1]}" if key != "100%" else "max": float(totals[key])
                     for key in ("50%", "90%", "99%", "99.9%", "100%")},
        samples=[tuple(s) for s in probe["samples"]],
    )


def _aggregate_row(path: Path) -> dict[str, str]:
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return row
    raise RuntimeError(f"no Aggregated row in {path}")

