"""Start the real reference server as a subprocess on a free loopback port, and stop it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from reference_server.demo.sim import build_sim_model

REPO_ROOT = Path(__file__).resolve().parents[2]

# A realistic fraud row in feature order (see reference_server/demo/synthetic_fraud.py).
ROW = [45.0, 21, 0.25, 1665, 3.1, 0, 40.5, 1.1, 0, 0, 0, 0, 1, 0]


def infer_body(rows: list[list[float]] | None = None, name: str = "features") -> dict[str, Any]:
    rows = rows or [ROW]
    return {"inputs": [{"name": name, "datatype": "FP32", "shape": [len(rows), len(rows[0])],
                        "data": [v for r in rows for v in r]}]}


# What a stranger's model might declare: several inputs, every kind of datatype, a dynamic
# dimension beside the batch, and no baseline statistics.
SCHEMA_INPUTS = [{"name": "ids", "datatype": "INT64", "shape": [-1, 3]},
                 {"name": "flags", "datatype": "BOOL", "shape": [-1, 2]},
                 {"name": "text", "datatype": "BYTES", "shape": [-1, 1]},
                 {"name": "embedding", "datatype": "FP32", "shape": [-1, -1, 4]}]


def write_schema_model(version_dir: Path) -> Path:
    """A `sim` version (1 ms, any input accepted) that declares SCHEMA_INPUTS and no baseline."""
    build_sim_model(version_dir, {"distribution": "constant", "median_ms": 1.0, "concurrency": 64})
    spec = json.loads((version_dir / "model.json").read_text())
    spec.update(inputs=SCHEMA_INPUTS, outputs=[{"name": "service_ms", "datatype": "FP32", "shape": [-1, 1]}])
    del spec["baseline"]
    (version_dir / "model.json").write_text(json.dumps(spec))
    return version_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    args: list[str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # added to this process's environment
    tls_ca: Path | None = None  # the server speaks HTTPS (--tls-cert), verified against this CA file

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://127.0.0.1:{self.port}"

    def start(self, ready_timeout_s: float = 90.0, headers: dict[str, str] | None = None) -> ServerProcess:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "reference_server", "--host", "127.0.0.1", "--port", str(self.port), *self.args],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                verify = ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else True
                if httpx.get(f"{self.url}/v2/health/ready", headers=headers, timeout=1, verify=verify).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {ready_timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, wait, and return the exit code (SIGKILL if it does not exit in time)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def metric_samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of the exposition lines for `name` whose labels include `labels`."""
    values = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            values.append(float(value))
    return values


Result = tuple[int, dict[str, str], bytes]


async def _post_all(url: str, bodies: list[Any], headers: dict[str, str] | None, limit: int) -> list[Result]:
    connector = aiohttp.TCPConnector(limit=limit)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def one(body: Any) -> Result:
            async with session.post(url, json=body, headers=headers) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, await resp.read()

        return await asyncio.gather(*(one(b) for b in bodies))


def post_concurrently(url: str, bodies: list[Any], headers: dict[str, str] | None = None,
                      limit: int = 100) -> list[Result]:
    """POST every body at once (up to `limit` connections); (status, lower-cased headers, body) in order."""
    return asyncio.run(_post_all(url, bodies, headers, limit))
