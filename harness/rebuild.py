"""`slogate report RUN_DIR`: analyse the stored records again and rewrite the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.analysis import AnalysisSpec, analyze
from harness.records import read_records
from harness.report import write_report

META_KEYS = ("schema", "scenario", "description", "tags", "started_at", "duration_s", "interrupted", "target", "analysis")


def rebuild_report(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    spec = AnalysisSpec.from_dict(summary["analysis"])
    records = read_records(run_dir / "requests.parquet")
    telemetry = pd.read_parquet(run_dir / "telemetry.parquet")
    result = analyze(records, telemetry, spec)
    meta = {key: summary[key] for key in META_KEYS if key in summary}
    write_report(run_dir, result, meta)
    return {**meta, **result.summary}
