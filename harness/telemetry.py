"""Once a second: the server's /metrics (summed over labels) and its process CPU and RSS.

The sampler runs as its own process: parsing a Prometheus page takes milliseconds of CPU,
and inside the generator's event loop that would delay every send due meanwhile (seen
here as a schedule-lag p99 of several ms at 40 req/s). perf_counter_ns is the system-wide
monotonic clock on Linux, so the child's timestamps share the generator's t0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pandas as pd
import psutil
from prometheus_client.parser import text_string_to_metric_families

SKIPPED_SUFFIXES = ("_bucket", "_created")
HEADERS_ENV = "SLOGATE_TELEMETRY_HEADERS"  # auth headers travel by environment, never argv


def summed_samples(text: str) -> dict[str, float]:
    """Each sample name summed over its label sets (histogram buckets left out)."""
    totals: dict[str, float] = defaultdict(float)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if not sample.name.endswith(SKIPPED_SUFFIXES):
                    totals[sample.name] += float(sample.value)
    except ValueError:
        return {}
    return dict(totals)


class TelemetryProcess:
    """Starts, stops and reads back the sampler child process."""

    def __init__(self, t0_ns: int, metrics_url: str | None, pid: int | None, headers: dict[str, str], path: Path,
                 period_s: float = 1.0) -> None:
        self.path = path
        command = [sys.executable, "-m", "harness.telemetry", str(t0_ns), metrics_url or "-", str(pid or 0),
                   str(period_s), str(path)]
        env = {**os.environ, HEADERS_ENV: json.dumps(headers)}
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def frame(self) -> pd.DataFrame:
        rows = []
        if self.path.exists():
            with self.path.open() as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame({"t_ns": pd.Series(dtype="int64")})
        frame["t_ns"] = frame["t_ns"].astype("int64")
        return frame


def _sample_forever(t0_ns: int, metrics_url: str | None, pid: int, period_s: float, path: Path) -> None:
    process = _process(pid)
    headers = json.loads(os.environ.get(HEADERS_ENV, "{}"))
    with path.open("a", buffering=1) as out:
        next_due = time.monotonic()
        while True:
            row = {"t_ns": time.perf_counter_ns() - t0_ns, **_process_sample(process)}
            if metrics_url:
                row.update(_scrape(metrics_url, headers, period_s))
            out.write(json.dumps(row) + "\n")
            next_due += period_s
            time.sleep(max(0.0, next_due - time.monotonic()))


def _process(pid: int) -> psutil.Process | None:
    if not pid:
        return None
    try:
        process = psutil.Process(pid)
        process.cpu_percent()  # primes the counter: the first call always returns 0
        return process
    except psutil.Error:
        return None


def _process_sample(process: psutil.Process | None) -> dict[str, float]:
    if process is None:
        return {}
    try:
        with process.oneshot():
            return {"cpu_percent": process.cpu_percent(), "rss_bytes": float(process.memory_info().rss)}
    except psutil.Error:
        return {}


def _scrape(url: str, headers: dict[str, str], timeout_s: float) -> dict[str, float]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s) as response:
            return summed_samples(response.read().decode("utf-8", errors="replace"))
    except OSError:
        return {}


def write_telemetry(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


if __name__ == "__main__":
    t0, url, server_pid, period, out_path = sys.argv[1:6]
    try:
        _sample_forever(int(t0), None if url == "-" else url, int(server_pid), float(period), Path(out_path))
    except KeyboardInterrupt:
        pass
