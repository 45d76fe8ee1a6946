"""`slogate report RUN_DIR`: redo analysis and report from what the run directory stores.

summary.json keeps the AnalysisSpec under "analysis"; requests.parquet and
telemetry.parquet keep the data. Metadata (scenario, target, started_at, extra sections
such as chaos) is carried over; everything analysis computes is computed afresh.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd

from harness.analysis import AnalysisSpec, Result, analyze
from harness.records import read_records
from harness.report import write_report


def rebuild_report(run_dir: Path) -> Result:
    old = orjson.loads((run_dir / "summary.json").read_bytes())
    spec = AnalysisSpec.from_dict(old["analysis"])
    telemetry_path = run_dir / "telemetry.parquet"
    telemetry = pd.read_parquet(telemetry_path) if telemetry_path.exists() else None
    result = analyze(read_records(run_dir / "requests.parquet"), telemetry, spec)
    meta = {key: value for key, value in old.items() if key not in result.summary}
    write_report(run_dir, result, meta)
    return result
