"""Once a second: the server's /metrics (summed over labels) and its process CPU and RSS.

Telemetry shares the generator's event loop, so a sample costs one small GET and a parse;
at 1 Hz that is noise next to the load itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import pandas as pd
import psutil
from prometheus_client.parser import text_string_to_metric_families

SKIPPED_SUFFIXES = ("_bucket", "_created")


class TelemetrySampler:
    def __init__(self, t0_ns: int, metrics_url: str | None, pid: int | None, headers: dict[str, str], period_s: float = 1.0):
        self.t0_ns = t0_ns
        self.metrics_url = metrics_url
        self.process = _process(pid)
        self.headers = headers
        self.period_s = period_s
        self.rows: list[dict[str, float]] = []

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            row = {"t_ns": time.perf_counter_ns() - self.t0_ns, **self._process_sample()}
            if self.metrics_url:
                row.update(await self._scrape(session))
            self.rows.append(row)
            await asyncio.sleep(self.period_s)

    def _process_sample(self) -> dict[str, float]:
        if self.process is None:
            return {}
        try:
            with self.process.oneshot():
                return {"cpu_percent": self.process.cpu_percent(), "rss_bytes": float(self.process.memory_info().rss)}
        except psutil.Error:
            return {}

    async def _scrape(self, session: aiohttp.ClientSession) -> dict[str, float]:
        try:
            timeout = aiohttp.ClientTimeout(total=self.period_s)
            async with session.get(self.metrics_url, headers=self.headers, timeout=timeout) as response:
                if response.status != 200:
                    return {}
                text = await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return {}
        return summed_samples(text)

    def frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return pd.DataFrame({"t_ns": pd.Series(dtype="int64")})
        frame["t_ns"] = frame["t_ns"].astype("int64")
        return frame


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


def _process(pid: int | None) -> psutil.Process | None:
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        process.cpu_percent()  # primes the counter: the first call always returns 0
        return process
    except psutil.Error:
        return None


def write_telemetry(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)
