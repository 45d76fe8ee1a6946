"""The thundering-herd game day fails without its mitigation: the same herd against herd v2,
whose queue holds 4096 requests instead of 8, queues what it cannot serve instead of
refusing it, so the accepted requests blow their SLO and service does not return within 5 s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "chaos_thundering_herd.yaml"
pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def test_without_a_bounded_queue_the_herd_fails_its_gate(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(SCENARIO), "--out", str(tmp_path),
                           "--set", "target.version=\"2\""], capture_output=True, text=True, timeout=180)
    summary = json.loads(next(tmp_path.glob("*/*/summary.json")).read_text())
    verdicts = {(row["expr"], row["window"]): row["verdict"] for row in summary["slos"]}
    assert verdicts[("p95(accepted_latency) < 200ms in during(herd)", "during(herd)")] == "fail"
    assert verdicts[("recovery_time < 5s", "run")] == "fail"
    assert verdicts[("max_queue_depth <= 8", "run")] == "fail"
    assert verdicts[("p99(rejection_time) < 20ms in during(herd)", "during(herd)")] == "inconclusive"  # no 429 at all
    assert summary["errors"]["by_status"].get("429", 0) == 0
    assert done.returncode == 1, done.stderr[-2000:]
