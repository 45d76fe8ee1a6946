"""summary.json: run metadata merged with the analysis summary (DESIGN §5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

SCHEMA = "slogate.summary/1"
META_KEYS = ("schema", "scenario", "description", "started_at", "duration_s", "target")


def build_summary(analysis_summary: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata first (every §5 key present, null when unknown), then the analysis."""
    head = {key: None for key in META_KEYS} | {"schema": SCHEMA} | meta
    return {**head, **analysis_summary}


def summary_json(summary: dict[str, Any]) -> bytes:
    """orjson writes NaN and infinities as null: JSON has no NaN, and 'unknown' is what they mean."""
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    path.write_bytes(summary_json(summary))
