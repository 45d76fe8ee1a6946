"""The regression gate end to end: `pytest` runs a scenario twice against one real reference
server, and the second time the server answers 15 ms later (a `latency` fault through its
admin API, as a slower build would). The first run has no baseline, so its regression items
are skipped, never passed; it is stored in the history and becomes the second run's
last-pass, whose latency items fail with the effect and its interval. `slogate compare
--baseline last-pass`, `slogate history` and its trend plot then read the same history
(called in-process: they only read files and the database)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.entry.cli import main
from harness.history.store import HistoryStore
from tests.server.server_process import ServerProcess

pytestmark = pytest.mark.integration

SLOWER_MS = 15
LATENCY_ITEMS = ("shift(latency)", "p50(latency)", "p95(latency)", "p99(latency)")


def scenario(url: str, **extra) -> dict:
    # 450 requests after the warm-up: enough for a p99 at the judge's 98% (390)
    return {"name": "gate", "seed": 3, "target": {"url": url, "model": "const10"},
            "workload": {"phases": [{"duration": "4s", "arrival": {"process": "constant", "rate": 150}}],
                         "warmup": "1s"},
            "regression": {"latency": "+10%", "error_rate": "+0.1pp"}, "analysis": {"max_lag_p99": "50ms"}, **extra}


def outcomes(junit: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(scenario file's stem, item) -> (outcome, message) from pytest's JUnit XML."""
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        detail = next(iter(case), None)
        stem = next(stem for stem in ("a_before", "b_slower") if stem in case.get("classname"))
        found[(stem, case.get("name"))] = ("passed", "") if detail is None else (
            detail.tag, f"{detail.get('message', '')} {detail.text or ''}")
    return found


def test_a_slower_server_fails_the_regression_gate(sim_repo, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLOGATE_HISTORY_URL", raising=False)  # the default: history.sqlite in --slogate-out
    scenarios, out, junit = tmp_path / "scenarios", tmp_path / "out", tmp_path / "junit.xml"
    scenarios.mkdir()
    server = ServerProcess(["--model-repo", str(sim_repo)], tmp_path / "server.log").start()
    try:
        (scenarios / "a_before.yaml").write_text(yaml.safe_dump(scenario(server.url)))
        slower = [{"at": "0s", "for": "5s", "action": "latency", "ms": SLOWER_MS}]
        (scenarios / "b_slower.yaml").write_text(yaml.safe_dump(scenario(server.url, faults=slower)))
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(scenarios),
                                 "--slogate-out", str(out), f"--junitxml={junit}"],
                                capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    finally:
        server.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    items = outcomes(junit)
    for metric in (*LATENCY_ITEMS, "error_rate"):
        outcome, message = items[("a_before", f"regression: {metric}")]
        assert outcome == "skipped" and "no baseline yet" in message, message
    for metric in LATENCY_ITEMS:
        outcome, message = items[("b_slower", f"regression: {metric}")]
        assert outcome == "failure" and f"REGRESSION: {metric} +" in message and "98% CI" in message, message
    assert "baseline run #1" in items[("b_slower", "regression: p99(latency)")][1]
    assert items[("b_slower", "regression: error_rate")][0] == "passed"
    assert items[("a_before", "run-valid")][0] == items[("b_slower", "run-valid")][0] == "passed"

    with HistoryStore.open(f"sqlite:///{out / 'history.sqlite'}", create=False) as store:
        first, second = store.runs("gate")
    assert (first.regression, second.regression, second.baseline_id) == (None, "fail", first.id)
    slower_run = Path(second.run_dir)
    judged = json.loads((slower_run / "compare.json").read_text())
    assert judged["baseline_run"].startswith(f"#{first.id} ")
    p99 = next(metric for metric in judged["metrics"] if metric["name"] == "latency_p99")
    assert p99["label"] == "high" and p99["ci"][0] > 0.1

    capsys.readouterr()
    # the slower run regressed, so last-pass is still the first
    assert main(["compare", "--baseline", "last-pass", str(slower_run)]) == 1
    assert f"baseline: #{first.id} {first.run_dir}" in capsys.readouterr().out
    assert main(["history", "gate", "--json", "--reports", str(out)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [run["id"] for run in listed] == [first.id, second.id]
    assert main(["history", "--plot", "gate", "p99", "--reports", str(out)]) == 0
    png, html = out / "trends" / "gate.p99_latency.png", out / "trends" / "gate.p99_latency.html"
    assert png.stat().st_size > 10_000
    page = html.read_text()
    assert f"#{second.id}" in page and "fail vs #1" in page and png.name in page
