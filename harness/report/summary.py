"""summary.json: the run's metadata (RunMeta), then its analysis summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from harness.atomic_write import atomic_path
from harness.report.meta import RunMeta


def build_summary(analysis_summary: dict[str, Any], meta: RunMeta) -> dict[str, Any]:
    """Metadata first (every key present, null when unknown), then the analysis."""
    return {**meta.to_dict(), **analysis_summary}


def summary_json(summary: dict[str, Any]) -> bytes:
    """orjson writes NaN and infinities as null: JSON has no NaN, and 'unknown' is what they mean."""
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    with atomic_path(path) as partial:
        partial.write_bytes(summary_json(summary))
