"""`slogate report RUN_DIR`: analyse the stored records again and rewrite the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.analysis import AnalysisSpec, analyze
from harness.records import read_records
from harness.report import write_report
from harness.report.meta import RunMeta


def rebuild_report(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    spec = AnalysisSpec.from_dict(summary["analysis"])
    records = read_records(run_dir / "requests.parquet")
    telemetry = pd.read_parquet(run_dir / "telemetry.parquet")
    result = analyze(records, telemetry, spec)
    meta = RunMeta.from_dict(summary)
    write_report(run_dir, result, meta)
    return {**meta.to_dict(), **result.summary}
