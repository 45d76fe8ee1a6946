"""The telemetry child process: samples the server once a second and appends JSON lines.

It imports no pandas and no harness modules beyond this one, gpu.py and tls_trust.py, so
starting it costs the generator's machine little CPU at the moment the load begins.
Timestamps are absolute perf_counter_ns values (system-wide CLOCK_MONOTONIC on Linux); the
parent makes them relative to the run's t0.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

from harness.telemetry.gpu import gpu_reader
from harness.telemetry.labelled import labelled_column
from harness.tls_trust import TlsTrust

SKIPPED_SUFFIXES = ("_bucket", "_created")
HEADERS_ENV = "SLOGATE_TELEMETRY_HEADERS"  # auth headers travel by environment, never argv
TLS_ENV = "SLOGATE_TELEMETRY_TLS"  # how an https:// metrics URL's certificate is checked (TlsTrust.to_json)


# Families kept per label set as well (`name{feature=amount,method=ks,...}`): a drift score
# summed over features says nothing about which one drifted.
LABELLED_FAMILIES = ("slogate_feature_drift", "slogate_prediction_drift", "slogate_drifted_feature_share",
                     "slogate_drift_window_rows")


def summed_samples(text: str) -> dict[str, float]:
    """Each sample name summed over its label sets (histogram buckets left out), and each
    label set of the LABELLED_FAMILIES on its own."""
    totals: dict[str, float] = defaultdict(float)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith(SKIPPED_SUFFIXES):
                    continue
                totals[sample.name] += float(sample.value)
                if sample.name in LABELLED_FAMILIES:
                    totals[labelled_column(sample.name, sample.labels)] = float(sample.value)
    except ValueError:
        return {}
    return dict(totals)


def _sample_until_orphaned(metrics_url: str | None, pid: int, period_s: float, path: Path) -> None:
    """Sample until the run that started this process is gone. The run stops it when it ends;
    a run killed outright (SIGTERM, SIGKILL) cannot, and its sampler would otherwise append
    to its file forever."""
    parent = os.getppid()
    process = _process(pid)
    gpus = gpu_reader()
    headers = json.loads(os.environ.get(HEADERS_ENV, "{}"))
    tls = TlsTrust.from_json(os.environ[TLS_ENV]).context() if TLS_ENV in os.environ else None
    with path.open("a", buffering=1) as out:
        next_due = time.monotonic()
        while os.getppid() == parent:
            row = {"t_abs_ns": time.perf_counter_ns(), **_process_sample(process), **(gpus() if gpus else {})}
            if metrics_url:
                row.update(_scrape(metrics_url, headers, period_s, tls))
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
    """CPU as a percentage and, cumulatively, as seconds of the process and its children (a
    vLLM server computes in an engine child process); RSS, open descriptors and threads of
    the process alone (what a soak watches for leaks)."""
    if process is None:
        return {}
    try:
        with process.oneshot():
            sample = {"cpu_percent": process.cpu_percent(), "rss_bytes": float(process.memory_info().rss),
                      "num_fds": float(process.num_fds()), "num_threads": float(process.num_threads()),
                      "cpu_seconds": _cpu_seconds(process, reaped_children=True)}
        for child in process.children(recursive=True):
            sample["cpu_seconds"] += _child_cpu_seconds(child)
        return sample
    except psutil.Error:
        return {}


def _cpu_seconds(process: psutil.Process, reaped_children: bool = False) -> float:
    """User + system seconds; with `reaped_children`, also those of children it has waited
    for, so the sum does not drop when a child exits."""
    times = process.cpu_times()
    reaped = times.children_user + times.children_system if reaped_children else 0.0
    return times.user + times.system + reaped


def _child_cpu_seconds(child: psutil.Process) -> float:
    try:
        return _cpu_seconds(child)
    except psutil.Error:  # it exited between the listing and the reading
        return 0.0


def _scrape(url: str, headers: dict[str, str], timeout_s: float, tls: ssl.SSLContext | None) -> dict[str, float]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s,
                                    context=tls) as response:
            return summed_samples(response.read().decode("utf-8", errors="replace"))
    except OSError:
        return {}


if __name__ == "__main__":
    url, server_pid, period, out_path = sys.argv[1:5]
    try:
        _sample_until_orphaned(None if url == "-" else url, int(server_pid), float(period), Path(out_path))
    except KeyboardInterrupt:
        pass
