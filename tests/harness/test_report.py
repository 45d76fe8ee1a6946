"""write_report: summary.json with every documented key, a self-contained HTML, PNGs; rebuilds."""

from __future__ import annotations

import base64
import math
import os
import re
import subprocess
from html import escape as html_escape
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis import AnalysisSpec, PhaseSpec, Result, analyze
from harness.analysis.synthetic import synthetic_records
from harness.entry.rebuild import rebuild_report
from harness.records import SCHEMA, empty_frame, write_records
from harness.report import write_report
from harness.report.meta import RunMeta, TargetMeta
from harness.report.plots import FIGURES
from harness.report.sections import report_sections
from harness.report.summary import summary_json

CHROMIUM = Path("/usr/bin/chromium")
META = RunMeta(
    scenario="steady-state-slo",
    description="Poisson load must meet the latency SLO",
    started_at="2026-11-28T12:00:00Z",
    duration_s=30.0,
    target=TargetMeta("reference", "http://127.0.0.1:8000", "fraud", "oip-v2", versions={"1": 100.0},
                      served={"1": {"backend": "torch", "requested_backend": "torch", "device": "cpu"}}),
)
SLOS = ["p95(latency) < 300ms", "p99(latency) < 25ms", "availability >= 99%", "error_rate < 5%"]


def _result(records: pd.DataFrame | None = None, telemetry: pd.DataFrame | None = None) -> Result:
    if records is None:
        records = synthetic_records(6000, rate=200.0, warmup_s=5.0, error_rate=0.01, phases=2)
    phases = (PhaseSpec("ramp", 0.0, 15.0, 200.0), PhaseSpec("steady", 15.0, 30.0, 200.0))
    spec = AnalysisSpec(slos=SLOS, phases=phases, warmup_s=5.0, events=[(20.0, "kill replica")])
    return analyze(records, telemetry, spec)


def _telemetry() -> pd.DataFrame:
    return pd.DataFrame({"t_ns": np.arange(30) * 10**9, "cpu_percent": np.linspace(10, 80, 30), "rss_bytes": np.full(30, 3e8)})


def test_summary_json_has_every_design_key(tmp_path: Path) -> None:
    write_report(tmp_path, _result(telemetry=_telemetry()), META)
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    for key in ("schema", "scenario", "verdict", "started_at", "duration_s", "target", "load", "latency_ms", "errors", "slos"):
        assert key in summary, key
    assert summary["schema"] == "slogate.summary/1" and summary["scenario"] == "steady-state-slo"
    assert {"requests", "target_rate", "achieved_rate", "schedule_lag_ms"} <= set(summary["load"])
    assert {"p50", "p90", "p95", "p99", "max"} <= set(summary["latency_ms"])
    assert {"total", "by_status", "by_kind"} == set(summary["errors"])
    slo = summary["slos"][0]
    assert {"expr", "verdict", "estimate", "ci", "confidence", "n", "unit"} <= set(slo)
    assert summary["verdict"] in ("pass", "fail", "inconclusive", "invalid")
    assert summary["telemetry"]["cpu_percent"]["max"] == 80.0


def test_missing_meta_is_null_and_nan_is_null() -> None:
    text = summary_json({"schema": "x", "estimate": float("nan"), "ci": [float("nan"), 1.0], "arr": np.array([1, 2])})
    assert orjson.loads(text) == {"schema": "x", "estimate": None, "ci": [None, 1.0], "arr": [1, 2]}


def test_html_is_self_contained_with_verdict_table_and_plots(tmp_path: Path) -> None:
    result = _result(telemetry=_telemetry())
    custom = {"features": [{"name": "amount", "psi": 0.31}]}  # a section no report section lays out
    write_report(tmp_path, Result({**result.summary, "custom": custom}, result.series, result.spec,
                                  (*result.sections, "custom")), META)
    html = (tmp_path / "report.html").read_text()
    assert 'id="verdicts"' in html and "p99(latency) &lt; 25ms" in html
    assert re.search(r'<td class="(pass|fail|inconclusive)">', html)
    assert 'id="load-validity"' in html and 'id="latency"' in html and 'id="errors"' in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    section_figures = sum(len(report_sections.get(name).figures) for name in result.sections)
    assert len(images) == len(FIGURES) + section_figures
    assert all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)
    assert not re.search(r'(src|href)="(http|file|/)', html)  # nothing fetched from outside
    assert "custom" in html and "amount" in html  # sections added by later capabilities still show
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "records",
    [empty_frame(), synthetic_records(500, rate=200.0, error_rate=1.0), synthetic_records(50_000, rate=2000.0)],
    ids=["empty", "all-errors", "large"],
)
def test_reports_for_awkward_runs(tmp_path: Path, records: pd.DataFrame) -> None:
    result = _result(records)
    write_report(tmp_path, result, META)
    _assert_the_page_shows(tmp_path / "report.html", result.summary)


def _assert_the_page_shows(page: Path, summary: dict) -> None:
    """The verdict, every SLO row and the request count on the page are the summary's."""
    html = page.read_text()
    assert re.search(rf'id="verdict">{summary["verdict"].upper()}</span>', html)
    rows = re.findall(r'<tr><td><code>(.*?)</code></td><td class="(\w+)">\w+</td>\s*<td class="num">(.*?)</td>', html)
    assert len(rows) == len(summary["slos"])
    for (expr, verdict, shown), slo in zip(rows, summary["slos"], strict=True):
        assert expr == html_escape(slo["expr"]) and verdict == slo["verdict"]
        assert shown == _expected_estimate(slo), (expr, shown)
    requests = re.search(r"<th>requests</th><td class=\"num\">([\d,]+)</td>", html).group(1)
    assert int(requests.replace(",", "")) == summary["load"]["requests"]


def _expected_estimate(slo: dict) -> str:
    """How an estimate reads, written here without the report's formatter."""
    value = slo["estimate"]
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    if slo["unit"] == "ratio":
        return f"{value * 100:,.6g}%"
    return f"{value:,.4g} {slo['unit']}"


def test_the_page_shows_the_summarys_values(tmp_path: Path) -> None:
    result = _result(telemetry=_telemetry())
    write_report(tmp_path, result, META)
    _assert_the_page_shows(tmp_path / "report.html", result.summary)


def test_report_rebuilds_from_the_run_directory(tmp_path: Path) -> None:
    records = synthetic_records(6000, rate=200.0, warmup_s=5.0, error_rate=0.01, phases=2)
    write_records(pa.Table.from_pandas(records, schema=SCHEMA, preserve_index=False), tmp_path / "requests.parquet", started_at=META.started_at, t0_ns=0)
    _telemetry().to_parquet(tmp_path / "telemetry.parquet")
    write_report(tmp_path, _result(records, _telemetry()), META)
    before = orjson.loads((tmp_path / "summary.json").read_bytes())
    (tmp_path / "report.html").unlink()
    rebuild_report(tmp_path)
    after = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert after == before
    assert (tmp_path / "report.html").exists()


@pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                    reason="needs Debian chromium at /usr/bin/chromium (CI installs it: there this fails instead)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    write_report(tmp_path, _result(telemetry=_telemetry()), META)
    shot = tmp_path / "shot.png"
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}", "--window-size=1280,2000", (tmp_path / "report.html").as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # not a blank page: text, tables and plots
    assert (pixels < 100).mean() > 0.005  # some dark ink (text) rendered


def test_the_target_row_reads_as_prose_not_reprs(tmp_path: Path) -> None:
    target = TargetMeta("reference", "http://127.0.0.1:8000", "fraud", "oip-v2", versions={"1": 0.0, "2": 100.0},
                        served={"2": {"backend": "torch", "requested_backend": "torch", "device": "cpu"}},
                        time_to_ready_s=7.019037502999993)
    write_report(tmp_path, _result(), RunMeta(**{**META.__dict__, "target": target}))
    row = re.search(r"<th>target</th><td[^>]*>(.*?)</td>", (tmp_path / "report.html").read_text()).group(1)
    assert "versions: v1 0%, v2 100%" in row and "served: v2 torch on cpu" in row
    assert "time_to_ready_s: 7.019 s" in row
    assert "{" not in row and "&#39;" not in row and "7.0190375" not in row
