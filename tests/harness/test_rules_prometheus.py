"""A real Prometheus, end to end: it scrapes the reference server with the rules `slogate rules`
wrote while a game day's error burst runs, and its own alert state pages, then resolves, when
the budget section's offline burn rates say it should.

Windows are compressed 240× (the fast page pair: 15 s and 1.25 s; the slow one: 90 s and 7.5 s)
on both sides: `slogate rules --window-scale 240`, and the scenario's
`analysis.burn_rate: {window_scale: 240}`, which read the same table. Prometheus scrapes and
evaluates every 250 ms, so the shortest window holds 5 samples.

The burst (every request answered 503 for 1.5 s, after 8 s of clean traffic at 100 req/s, with
a 1% budget) pages through the slow pair (6×) about 0.5 s in, and the page resolves about 7 s
after it ends, when the slow pair's 7.5 s window has let it go, before the load stops.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml

from harness.analysis.burn_windows import workbook_pairs
from harness.entry.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from prometheus_support import need_binary
from server_process import ServerProcess, free_port  # (tests/server is not a package)

# Slow (tox -e slow, ~55 s): CI checks the same rules with promtool (test_rules.py: a 14.4x burn
# pages, a 0.5x burn fires nothing) and the budget section's offline times in its own tests;
# this run shows a real Prometheus agrees with both.
pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

SCALE = 240
SCRAPE_S = EVAL_S = 0.25
POLL_S = 0.1
BURST_AT_S, BURST_S, RUN_S = 8, 1.5, 20  # the burst after the slow page pair's 7.5 s short window has filled
ADMIN_TOKEN = "rules-e2e-admin"


class AlertWatch:
    """Polls Prometheus's /api/v1/alerts: when the page alert became active, and when it went away."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.active_at: float | None = None
        self.resolved_at: float | None = None
        self.exit_code: int | None = None  # the watched run's
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.stop.wait(POLL_S):
            try:
                alerts = httpx.get(f"{self.url}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
            except (httpx.HTTPError, ValueError):
                continue  # a poll that failed tells nothing; the next one will
            page = [a for a in alerts if a["labels"].get("severity") == "page" and a["state"] == "firing"]
            if page and self.active_at is None:
                self.active_at = datetime.fromisoformat(page[0]["activeAt"]).timestamp()
            elif not page and self.active_at is not None and self.resolved_at is None:
                self.resolved_at = time.time()


def write_scenario(path: Path, server: ServerProcess) -> None:
    scenario = {
        "name": "rules-burst", "seed": 3,
        "target": {"url": server.url, "model": "const10", "protocol": "oip-v2", "admin_token_env": "E2E_ADMIN"},
        "workload": {"phases": [{"duration": f"{RUN_S}s", "arrival": {"process": "poisson", "rate": 100}}],
                     "warmup": "0s"},
        "faults": [{"action": "error", "at": f"{BURST_AT_S}s", "for": f"{BURST_S}s", "rate": 1.0, "status": 503,
                    "name": "burst"}],
        "slos": ["availability >= 99%"],
        "analysis": {"burn_rate": {"window_scale": SCALE}, "max_lag_p99": "15ms"},
    }
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))


def start_prometheus(tmp_path: Path, server: ServerProcess, rules: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = {"global": {"scrape_interval": f"{SCRAPE_S * 1000:g}ms", "evaluation_interval": f"{EVAL_S * 1000:g}ms"},
              "rule_files": [str(rules)],
              "scrape_configs": [{"job_name": "slogate", "static_configs": [{"targets": [server.url.removeprefix("http://")]}]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen([need_binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"prometheus not ready:\n{(tmp_path / 'prometheus.log').read_text()[-2000:]}")


def offline_page(summary: dict) -> tuple[float, float, float]:
    """The burst's start, the page and its reset on the wall clock, from summary.json's budget
    section: the page alert is its pairs' OR, so it resets when the last of them does."""
    (fault,) = [f for f in summary["chaos"]["faults"] if f["name"] == "burst"]
    (objective,) = summary["budget"]["objectives"]
    pages = [alert for alert in objective["alerts"] if alert["severity"] == "page"]
    page_ms = min(alert["time_to_page_ms"]["burst"] for alert in pages)
    reset_s = max(episode["reset_s"] for alert in pages for episode in alert["episodes"])
    t0 = datetime.fromisoformat(summary["started_at"]).timestamp()
    return t0 + fault["start_s"], t0 + fault["start_s"] + page_ms / 1e3, t0 + reset_s


def watch_a_game_day(tmp_path: Path, server: ServerProcess) -> AlertWatch:
    """Rules for the scenario, Prometheus with them, and the scenario run while its alerts are watched."""
    scenario, rules = tmp_path / "burst.yaml", tmp_path / "rules.yml"
    write_scenario(scenario, server)
    assert main(["rules", str(scenario), "--window-scale", str(SCALE), "-o", str(rules)]) == 0
    prometheus, url = start_prometheus(tmp_path, server, rules)
    watch = AlertWatch(url)
    try:
        watch.thread.start()
        watch.exit_code = main(["run", str(scenario), "--out", str(tmp_path / "out")])
        deadline = time.monotonic() + 10
        while watch.resolved_at is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
    finally:
        watch.stop.set()
        watch.thread.join(5)
        prometheus.terminate()
        prometheus.wait(10)
    return watch


def test_prometheus_pages_when_the_budget_section_does(sim_repo: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    need_binary("prometheus")
    monkeypatch.setenv("E2E_ADMIN", ADMIN_TOKEN)
    (tmp_path / "admin").write_text(ADMIN_TOKEN)
    server = ServerProcess(["--model-repo", str(sim_repo), "--admin-token-file", str(tmp_path / "admin")],
                           tmp_path / "server.log").start()
    try:
        watch = watch_a_game_day(tmp_path, server)
    finally:
        server.stop()
    (summary_path,) = (tmp_path / "out").glob("*/*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["budget"]["pairs"] == [{"burn": p.burn, "long_s": p.long_s, "short_s": p.short_s,
                                           "severity": p.severity} for p in workbook_pairs(window_scale=SCALE)]
    burst_at, offline_at, offline_reset = offline_page(summary)
    assert watch.exit_code == 0, summary["slos"]  # a valid run: with faults, an unscoped SLO is judged outside them
    assert watch.active_at is not None
    assert watch.resolved_at is not None, "the page never resolved"
    print(f"after the burst: page offline +{offline_at - burst_at:.3f} s, prometheus +{watch.active_at - burst_at:.3f} s;"
          f" reset offline +{offline_reset - burst_at:.3f} s, prometheus +{watch.resolved_at - burst_at:.3f} s")
    # Prometheus sees a request at the next scrape and fires at the next evaluation after it:
    # up to one scrape plus one evaluation interval after the burn crossed its threshold (the
    # recordings and alerts share a group, so no evaluation is lost between them); the budget
    # section fires at the first point of its grid past the crossing, a quarter of the shortest
    # window (0.31 s) at most, so the two differ by less than a scrape and an evaluation
    assert abs(watch.active_at - offline_at) <= SCRAPE_S + EVAL_S
    # the resolution is seen by polling, which adds up to a poll interval
    assert abs(watch.resolved_at - offline_reset) <= SCRAPE_S + EVAL_S + POLL_S
    assert watch.resolved_at < burst_at + (RUN_S - BURST_AT_S) - 1, "resolved by the load's end, not by the burn"
