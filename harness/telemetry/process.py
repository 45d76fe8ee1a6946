"""Server telemetry for a run: a sampler child process, read back as a DataFrame.

The sampler runs as its own process: parsing a Prometheus page takes milliseconds of CPU,
and inside the generator's event loop that would delay every send due meanwhile (seen
here as a schedule-lag p99 of several ms at 40 req/s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from harness.atomic_write import atomic_path
from harness.telemetry.sampler import HEADERS_ENV, TLS_ENV
from harness.tls_trust import TlsTrust


class TelemetryProcess:
    """Starts, stops and reads back the sampler child process (harness/telemetry/sampler.py)."""

    def __init__(self, metrics_url: str | None, pid: int | None, headers: dict[str, str], path: Path,
                 tls: TlsTrust | None = None, period_s: float = 1.0) -> None:
        self.path = path
        command = [sys.executable, "-m", "harness.telemetry.sampler", metrics_url or "-", str(pid or 0),
                   str(period_s), str(path)]
        env = {**os.environ, HEADERS_ENV: json.dumps(headers)}
        if tls is not None:
            env[TLS_ENV] = tls.to_json()
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def frame(self, t0_ns: int) -> pd.DataFrame:
        """Samples from the run's start on, with `t_ns` relative to t0."""
        rows = []
        if self.path.exists():
            with self.path.open() as handle:
                rows = [json.loads(line) for line in handle if line.strip()]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame({"t_ns": pd.Series(dtype="int64")})
        frame.insert(0, "t_ns", frame.pop("t_abs_ns").astype("int64") - t0_ns)
        return frame[frame["t_ns"] >= 0].reset_index(drop=True)


def write_telemetry(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as partial:
        frame.to_parquet(partial, index=False)
